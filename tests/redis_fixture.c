/* SPDX-License-Identifier: Apache-2.0 */
/* Test fixture: a private redis-server per suite (see redis_fixture.h).
 * Readiness comes from the server itself (`supervised systemd` sends
 * READY=1 on NOTIFY_SOCKET once it accepts connections, after loading its
 * AOF), so tests never sleep or poll the wall clock. */
#include "redis_fixture.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

int rf_free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0)
    return -1;
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  int port = -1;
  if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
      getsockname(fd, (struct sockaddr *)&a, &len) == 0)
    port = ntohs(a.sin_port);
  close(fd);
  return port;
}

static int write_conf(rf_server *s, const rf_opts *o) {
  FILE *f = fopen(s->conf, "w");
  if (!f)
    return -1;
  fprintf(f, "port %d\nbind 127.0.0.1\ndir %s\nsave \"\"\nsupervised systemd\n", s->port, s->dir);
  fprintf(f, "logfile %s/redis.log\nprotected-mode no\n", s->dir);
  if (o && o->appendonly)
    fprintf(f, "appendonly yes\nappendfsync %s\n", o->appendfsync ? o->appendfsync : "everysec");
  if (o && o->user)
    fprintf(f, "user %s on >%s %s\n", o->user, o->password ? o->password : "",
            o->user_rules ? o->user_rules : "~* &* +@all");
  else if (o && o->password)
    fprintf(f, "requirepass %s\n", o->password);
  if (o && o->default_acl)
    fprintf(f, "user default %s\n", o->default_acl);
  if (!(o && o->sentinel_of)) /* replicas attach at once, not after 5 s */
    fprintf(f, "repl-diskless-sync-delay 0\n");
  if (o && o->cluster_node_timeout_ms)
    /* The bus port would be port + 10000 (too high for ephemeral ports). */
    fprintf(f,
            "cluster-enabled yes\ncluster-config-file %s/nodes.conf\ncluster-node-timeout %d\n"
            "cluster-port %d\n",
            s->dir, o->cluster_node_timeout_ms, rf_free_port());
  if (o && o->replicaof)
    fprintf(f, "replicaof 127.0.0.1 %d\n", o->replicaof);
  if (o && o->sentinel_of)
    fprintf(f,
            "sentinel monitor mymaster 127.0.0.1 %d %d\n"
            "sentinel down-after-milliseconds mymaster 500\n"
            "sentinel failover-timeout mymaster 3000\n",
            o->sentinel_of, o->quorum > 0 ? o->quorum : 1);
  s->sentinel = o && o->sentinel_of;
  return fclose(f);
}

/* Spawn redis-server and wait for its READY=1 (10 s at most). */
static int spawn(rf_server *s) {
  char sock[sizeof s->dir + 16];
  snprintf(sock, sizeof sock, "%s/notify", s->dir);
  unlink(sock);
  int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
  if (fd < 0)
    return -1;
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  if (strlen(sock) >= sizeof a.sun_path) {
    close(fd);
    return -1;
  }
  memcpy(a.sun_path, sock, strlen(sock) + 1);
  struct timeval tv = {10, 0};
  if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
      setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0) {
    close(fd);
    return -1;
  }
  pid_t pid = fork();
  if (pid < 0) {
    close(fd);
    return -1;
  }
  if (pid == 0) {
    /* Die with the test process, even when it crashes. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    setenv("NOTIFY_SOCKET", sock, 1);
    /* No inherited stdio: a test runner reading our output must not wait
     * for the server to exit. */
    int null = open("/dev/null", O_RDWR);
    if (null >= 0) {
      dup2(null, 0);
      dup2(null, 1);
      dup2(null, 2);
    }
    if (s->sentinel)
      execlp("redis-server", "redis-server", s->conf, "--sentinel", (char *)NULL);
    else
      execlp("redis-server", "redis-server", s->conf, (char *)NULL);
    _exit(127);
  }
  s->pid = pid;
  char msg[512];
  int ready = 0;
  while (!ready) {
    ssize_t n = recv(fd, msg, sizeof msg - 1, 0);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      break; /* timeout: the server failed to start */
    msg[n] = '\0';
    ready = strstr(msg, "READY=1") != NULL;
  }
  close(fd);
  unlink(sock);
  if (!ready) {
    fprintf(stderr, "redis fixture: redis-server did not become ready; its log:\n");
    char log[sizeof s->dir + 16], line[512];
    snprintf(log, sizeof log, "%s/redis.log", s->dir);
    FILE *f = fopen(log, "r");
    while (f && fgets(line, sizeof line, f))
      fputs(line, stderr);
    if (f)
      fclose(f);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    s->pid = 0;
    return -1;
  }
  return 0;
}

int rf_start(rf_server *s, const rf_opts *o) {
  memset(s, 0, sizeof *s);
  snprintf(s->dir, sizeof s->dir, "/tmp/sluice-redis-XXXXXX");
  if (!mkdtemp(s->dir))
    return -1;
  snprintf(s->conf, sizeof s->conf, "%s/redis.conf", s->dir);
  s->port = rf_free_port();
  if (s->port <= 0 || write_conf(s, o) != 0 || spawn(s) != 0) {
    rf_stop(s); /* suites whose setup fails get no teardown */
    return -1;
  }
  return 0;
}

void rf_kill9(rf_server *s) {
  if (s->pid > 0) {
    kill(s->pid, SIGKILL);
    waitpid(s->pid, NULL, 0);
    s->pid = 0;
  }
}

int rf_restart(rf_server *s) {
  rf_kill9(s);
  return spawn(s);
}

static void remove_tree(const char *dir) {
  pid_t pid = fork();
  if (pid == 0) {
    execlp("rm", "rm", "-rf", dir, (char *)NULL);
    _exit(127);
  }
  if (pid > 0)
    waitpid(pid, NULL, 0);
}

void rf_stop(rf_server *s) {
  if (s->pid > 0) {
    kill(s->pid, SIGTERM);
    waitpid(s->pid, NULL, 0);
    s->pid = 0;
  }
  if (s->dir[0] && strncmp(s->dir, "/tmp/sluice-redis-", 18) == 0)
    remove_tree(s->dir);
  s->dir[0] = '\0';
}

int rf_http_get(int port, const char *path, char *out, size_t cap) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_port = htons((uint16_t)port),
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  char req[256];
  size_t n = 0;
  int st = -1;
  out[0] = '\0';
  snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", path);
  if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
      write(fd, req, strlen(req)) == (ssize_t)strlen(req)) {
    ssize_t k;
    while (n + 1 < cap && (k = read(fd, out + n, cap - 1 - n)) > 0)
      n += (size_t)k;
    out[n] = '\0';
    sscanf(out, "HTTP/1.%*d %d", &st);
  }
  if (fd >= 0)
    close(fd);
  return st;
}

int rf_http_status(int port, const char *path) {
  char resp[512];
  return rf_http_get(port, path, resp, sizeof resp);
}

const char *rf_url(const rf_server *s, const char *user, const char *pass, int db, char *buf,
                   size_t cap) {
  char auth[256] = "";
  if (user || pass)
    snprintf(auth, sizeof auth, "%s%s%s@", user ? user : "", pass ? ":" : "", pass ? pass : "");
  if (db)
    snprintf(buf, cap, "redis://%s127.0.0.1:%d/%d", auth, s->port, db);
  else
    snprintf(buf, cap, "redis://%s127.0.0.1:%d", auth, s->port);
  return buf;
}

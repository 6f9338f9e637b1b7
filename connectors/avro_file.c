/* SPDX-License-Identifier: Apache-2.0 */
/* Avro object container files, read with Avro-C (it handles the header,
 * sync markers and block codecs). Each datum is written back to its binary
 * form and decoded by sluice's compiled plan for the file's writer schema,
 * so records from files and from Kafka come out exactly alike. */
#include <avro.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avro_file.h"
#include "codec/avro_codec.h"

struct sl_avro_file {
  avro_file_reader_t reader;
  avro_schema_t schema;      /* the writer schema, owned by the reader */
  avro_value_iface_t *iface;
  avro_value_t value;        /* reused for every datum */
  int have_value;
  sl_avro_schema *plan;      /* compiled from the writer schema */
  char *buf;                 /* one datum's binary encoding, reused */
  size_t cap;
};

void sl_avro_file_close(sl_avro_file *f) {
  if (!f)
    return;
  if (f->have_value)
    avro_value_decref(&f->value);
  if (f->iface)
    avro_value_iface_decref(f->iface);
  if (f->schema)
    avro_schema_decref(f->schema);
  if (f->reader)
    avro_file_reader_close(f->reader);
  sl_avro_schema_free(f->plan);
  free(f->buf);
  free(f);
}

/* The schema's JSON text, grown until it fits. Caller frees. */
static char *schema_json(avro_schema_t schema) {
  for (size_t cap = 4096; cap <= (64u << 20); cap *= 4) {
    char *text = malloc(cap);
    if (!text)
      return NULL;
    avro_writer_t w = avro_writer_memory(text, (int64_t)cap - 1);
    int rc = avro_schema_to_json(schema, w);
    int64_t len = avro_writer_tell(w);
    avro_writer_free(w);
    if (rc == 0) {
      text[len] = '\0';
      return text;
    }
    free(text);
  }
  return NULL;
}

sl_avro_file *sl_avro_file_open(const char *path, sl_error *err) {
  sl_avro_file *f = calloc(1, sizeof *f);
  if (!f) {
    sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    return NULL;
  }
  /* Check the magic first: Avro-C leaks when it rejects a file itself, and
   * this message says more than its own. */
  FILE *fp = fopen(path, "rb");
  unsigned char magic[4] = {0};
  size_t got = fp ? fread(magic, 1, 4, fp) : 0;
  if (fp)
    fclose(fp);
  if (!fp || got != 4 || memcmp(magic, "Obj\x01", 4) != 0) {
    sl_error_set(err, SL_ERR_IO, "'%s' is not an Avro object container file (%s)", path,
                 !fp ? "cannot open it" : "it does not start with \"Obj\\x01\"");
    goto fail;
  }
  if (avro_file_reader(path, &f->reader) != 0) {
    sl_error_set(err, SL_ERR_IO, "cannot read Avro file '%s': %s", path, avro_strerror());
    f->reader = NULL;
    goto fail;
  }
  f->schema = avro_file_reader_get_writer_schema(f->reader); /* a new reference */
  f->iface = avro_generic_class_from_schema(f->schema);
  if (!f->iface || avro_generic_value_new(f->iface, &f->value) != 0) {
    sl_error_set(err, SL_ERR_INVALID, "Avro file '%s': unusable schema: %s", path,
                 avro_strerror());
    goto fail;
  }
  f->have_value = 1;
  char *json = schema_json(f->schema);
  if (!json) {
    sl_error_set(err, SL_ERR_NOMEM, "Avro file '%s': cannot render its schema", path);
    goto fail;
  }
  f->plan = sl_avro_schema_parse(json, strlen(json), err);
  free(json);
  if (!f->plan)
    goto fail;
  return f;
fail:
  sl_avro_file_close(f);
  return NULL;
}

int sl_avro_file_next(sl_avro_file *f, sl_arena *a, sl_record **out, sl_error *err) {
  avro_value_reset(&f->value);
  int rc = avro_file_reader_read_value(f->reader, &f->value);
  if (rc == EOF)
    return 0;
  if (rc != 0)
    return sl_error_set(err, SL_ERR_IO, "reading the Avro file: %s", avro_strerror());
  size_t size = 0;
  if (avro_value_sizeof(&f->value, &size) != 0)
    return sl_error_set(err, SL_ERR_IO, "sizing an Avro datum: %s", avro_strerror());
  if (size + 1 > f->cap) {
    char *nb = realloc(f->buf, size + 1);
    if (!nb)
      return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    f->buf = nb;
    f->cap = size + 1;
  }
  avro_writer_t w = avro_writer_memory(f->buf, (int64_t)size);
  rc = avro_value_write(w, &f->value);
  avro_writer_free(w);
  if (rc != 0)
    return sl_error_set(err, SL_ERR_IO, "encoding an Avro datum: %s", avro_strerror());
  char *raw = sl_arena_strndup(a, f->buf, size);
  if (!raw)
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  if (sl_avro_decode(f->plan, raw, size, a, out, err) != SL_OK) {
    *out = sl_record_new(a, 0);
    if (!*out)
      return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    sl_record_set_raw(*out, raw, size);
    return SL_ERR_PARSE;
  }
  sl_record_set_raw(*out, raw, size);
  return 1;
}

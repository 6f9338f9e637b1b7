{{/* SPDX-License-Identifier: Apache-2.0 */}}
{{/* Names, labels and the environment shared by the templates. */}}

{{- define "sluice.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "sluice.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* sluice.selector: (dict "root" $ "component" "worker") */}}
{{- define "sluice.selector" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "sluice.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{/* The Secret holding redis-url / api-token when the chart writes one. */}}
{{- define "sluice.secretName" -}}
{{ include "sluice.fullname" . }}
{{- end -}}

{{- define "sluice.tokenEnabled" -}}
{{- if or .Values.apiToken.token .Values.apiToken.existingSecret -}}true{{- end -}}
{{- end -}}

{{- define "sluice.redisEnv" -}}
- name: SLUICE_REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ .Values.redis.existingSecret | default (include "sluice.secretName" .) }}
      key: {{ if .Values.redis.existingSecret }}{{ .Values.redis.existingSecretKey }}{{ else }}redis-url{{ end }}
{{- end -}}

{{- define "sluice.tokenEnv" -}}
{{- if include "sluice.tokenEnabled" . }}
- name: SLUICE_API_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ .Values.apiToken.existingSecret | default (include "sluice.secretName" .) }}
      key: {{ if .Values.apiToken.existingSecret }}{{ .Values.apiToken.existingSecretKey }}{{ else }}api-token{{ end }}
{{- end }}
{{- end -}}

{{/* Prometheus annotations only when /metrics answers without a token. */}}
{{- define "sluice.scrapeAnnotations" -}}
{{- if and .root.Values.metrics.annotations (not (include "sluice.tokenEnabled" .root)) }}
prometheus.io/scrape: "true"
prometheus.io/port: {{ .port | quote }}
prometheus.io/path: /metrics
{{- end }}
{{- end -}}

{{- define "sluice.containerSecurity" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: ["ALL"]
{{- end -}}

{{- define "sluice.probes" -}}
livenessProbe:
  httpGet:
    path: /healthz
    port: http
  periodSeconds: 10
  failureThreshold: 3
readinessProbe:
  httpGet:
    path: /readyz
    port: http
  periodSeconds: 5
  failureThreshold: 2
{{- end -}}

{{/*
Chart name, overridable with nameOverride. Truncated to 63 characters because some
Kubernetes name fields are limited to that (DNS-1123 label).
*/}}
{{- define "postgres.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Object name, the `helm create` convention: the release name alone when it already contains
the chart name (release "postgres" -> "postgres"), else "<release>-<chart>" ("todo" -> "todo-postgres").
*/}}
{{- define "postgres.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* Headless Service that gives the StatefulSet's pods their stable DNS names. */}}
{{- define "postgres.headlessName" -}}
{{- printf "%s-hl" (include "postgres.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "postgres.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels that select this release's pods; must never change after install (selectors are immutable). */}}
{{- define "postgres.selectorLabels" -}}
app.kubernetes.io/name: {{ include "postgres.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "postgres.labels" -}}
helm.sh/chart: {{ include "postgres.chart" . }}
{{ include "postgres.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: database
app.kubernetes.io/part-of: todo
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
The image reference, refused when it is mutable: a ":latest" tag (or no tag at all) lets a node
run a different image than the one planned, which is how pods end up on stale code.
*/}}
{{- define "postgres.image" -}}
{{- $ref := required "image.ref is required: a pinned image reference (tag or @sha256 digest)" .Values.image.ref }}
{{- if or (hasSuffix ":latest" $ref) (not (regexMatch "(:[^/]+|@sha256:[0-9a-f]{64})$" $ref)) }}
{{- fail (printf "image.ref %q is not pinned: use a version tag or an @sha256 digest, not latest" $ref) }}
{{- end }}
{{- $ref }}
{{- end }}

{{/*
Chart name, overridable with nameOverride. Truncated to 63 characters because some
Kubernetes name fields are limited to that (DNS-1123 label).
*/}}
{{- define "frontend.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Object name, the `helm create` convention: the release name alone when it already contains
the chart name (release "frontend" -> "frontend"), else "<release>-<chart>" ("todo" -> "todo-frontend").
*/}}
{{- define "frontend.fullname" -}}
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

{{- define "frontend.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels that select this release's pods; must never change after install (selectors are immutable). */}}
{{- define "frontend.selectorLabels" -}}
app.kubernetes.io/name: {{ include "frontend.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "frontend.labels" -}}
helm.sh/chart: {{ include "frontend.chart" . }}
{{ include "frontend.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: web
app.kubernetes.io/part-of: todo
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
The image reference, refused when it is mutable: a ":latest" tag (or no tag at all) lets a node
run a different image than the one planned, which is how pods end up on stale code.
*/}}
{{- define "frontend.image" -}}
{{- $ref := required "image.ref is required: a pinned image reference (tag or @sha256 digest)" .Values.image.ref }}
{{- if or (hasSuffix ":latest" $ref) (not (regexMatch "(:[^/]+|@sha256:[0-9a-f]{64})$" $ref)) }}
{{- fail (printf "image.ref %q is not pinned: use a version tag or an @sha256 digest, not latest" $ref) }}
{{- end }}
{{- $ref }}
{{- end }}

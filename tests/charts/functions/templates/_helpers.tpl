{{/* Names, with trim markers and nested includes */}}
{{- define "functions.name" -}}
{{- .Values.name | lower | replace " " "-" | replace "_" "-" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "functions.labels" -}}
app: {{ include "functions.name" . }}
chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | quote }}
{{- range $k, $v := .Values.labels }}
{{ $k }}: {{ $v | quote }}
{{- end }}
{{- end -}}

{{- define "functions.block" -}}default block{{- end -}}

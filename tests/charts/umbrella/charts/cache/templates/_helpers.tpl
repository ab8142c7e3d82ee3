{{- define "cache.labels" -}}
cache: {{ .Chart.Name }}
env: {{ .Values.global.env }}
{{- end -}}

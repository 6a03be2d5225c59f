{{/* Labels of every object of this chart. */}}
{{- define "jhub-managed.labels" -}}
app.kubernetes.io/name: jhub-managed
app.kubernetes.io/instance: {{ .Release.Name | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | quote }}
{{- end }}

{{/* The hub pod, as zero-to-jupyterhub labels it. */}}
{{- define "jhub-managed.hubSelector" -}}
component: hub
release: {{ .Release.Name | quote }}
{{- end }}

{{/* The options of configure() from the values. */}}
{{- define "jhub-managed.options" -}}
{{- $custom := .Values.jupyterhub.custom | default dict -}}
{{- toYaml ($custom.jhubManaged | default dict) -}}
{{- end }}

{{/*
  The services with metrics that this hub runs (usage, health), as a list; fails the
  rendering when one of them has no fixed port, since the proxy and Prometheus need it.
*/}}
{{- define "jhub-managed.metricsServices" -}}
{{- $options := include "jhub-managed.options" . | fromYaml -}}
{{- $services := $options.services | default (list "config" "usage" "health") -}}
{{- $ports := $options.service_ports | default dict -}}
{{- $out := list -}}
{{- range $name := list "usage" "health" -}}
{{- if has $name $services -}}
{{- if not (hasKey $ports $name) -}}
{{- fail (printf "jupyterhub.custom.jhubManaged.service_ports.%s: the %s service needs a fixed port in a hub pod" $name $name) -}}
{{- end -}}
{{- $out = append $out (dict "name" $name "port" (get $ports $name)) -}}
{{- end -}}
{{- end -}}
{{- toYaml (dict "services" $out) -}}
{{- end }}

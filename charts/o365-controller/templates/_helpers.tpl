{{- define "o365-controller.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "o365-controller.fullname" -}}
{{- if contains .Chart.Name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "o365-controller.selectorLabels" -}}
app.kubernetes.io/name: {{ include "o365-controller.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "o365-controller.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "o365-controller.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "o365-controller.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "o365-controller.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* Role when one namespace is watched, ClusterRole otherwise. */}}
{{- define "o365-controller.roleKind" -}}
{{- if .Values.watchNamespace }}Role{{ else }}ClusterRole{{ end }}
{{- end }}

{{/* The namespaces whose Secrets and ConfigMaps are readable, as a JSON list: tenantNamespaces,
     else watchNamespace, else the release namespace. */}}
{{- define "o365-controller.tenantNamespaces" -}}
{{- $namespaces := .Values.tenantNamespaces | default (list (.Values.watchNamespace | default .Release.Namespace)) -}}
{{- $namespaces | uniq | toJson -}}
{{- end }}

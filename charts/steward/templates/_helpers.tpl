{{/* The release's full name: the release name if it holds the chart name, else both. */}}
{{- define "steward.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* The labels that select Steward's pods. */}}
{{- define "steward.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: controller
{{- end -}}

{{/* Labels of every object; Helm's own only with helmLabels (manifests/ leaves them out). */}}
{{- define "steward.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- if .Values.helmLabels }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end }}
{{- end -}}

{{- define "steward.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "steward.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "steward.leaseName" -}}
{{- default (include "steward.fullname" .) .Values.leaderElection.leaseName -}}
{{- end -}}

{{/* The metrics Service's name, which is also the job label Prometheus gives the scrape. */}}
{{- define "steward.metricsService" -}}
{{- printf "%s-metrics" (include "steward.fullname" .) -}}
{{- end -}}

{{/* The ServiceAccount as the subject of a binding. */}}
{{- define "steward.subjects" -}}
- kind: ServiceAccount
  name: {{ include "steward.serviceAccountName" . }}
  namespace: {{ .Release.Namespace }}
{{- end -}}

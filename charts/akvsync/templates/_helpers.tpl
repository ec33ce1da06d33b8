{{/* The chart's name, ESO's way. */}}
{{- define "akvsync.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The full name: the release name, with the chart's name unless the release name holds it. */}}
{{- define "akvsync.fullname" -}}
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

{{/* The full name with a suffix, within 63 characters. */}}
{{- define "akvsync.componentName" -}}
{{- $context := index . 0 -}}
{{- $suffix := index . 1 -}}
{{- printf "%s%s" (include "akvsync.fullname" $context | trunc (int (sub 63 (len $suffix))) | trimSuffix "-") $suffix -}}
{{- end }}

{{- define "akvsync.namespace" -}}
{{- default .Release.Namespace .Values.namespaceOverride }}
{{- end }}

{{/* The namespace the operator watches when scoped, or nothing. */}}
{{- define "akvsync.scopedNamespace" -}}
{{- if or .Values.scopedNamespace .Values.scopedRBAC }}
{{- default (include "akvsync.namespace" .) .Values.scopedNamespace }}
{{- end }}
{{- end }}

{{- define "akvsync.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "akvsync.selectorLabels" -}}
app.kubernetes.io/name: {{ include "akvsync.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: controller
{{- end }}

{{- define "akvsync.labels" -}}
helm.sh/chart: {{ include "akvsync.chart" . }}
{{ include "akvsync.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: akvsync
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "akvsync.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "akvsync.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "akvsync.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* The namespaced rules of the operator: in a ClusterRole cluster-wide, or in a Role. */}}
{{- define "akvsync.genericTargetRules" -}}
{{- if .Values.genericTargets.enabled }}
- apiGroups: [""]
  resources: ["configmaps"]
  verbs: ["create", "update", "patch", "delete"]
{{- range .Values.genericTargets.resources }}
- apiGroups: [{{ .apiGroup | quote }}]
  resources: [{{ range $i, $r := .resources }}{{ if $i }}, {{ end }}{{ $r | quote }}{{ end }}]
  verbs: [{{ range $i, $v := .verbs }}{{ if $i }}, {{ end }}{{ $v | quote }}{{ end }}]
{{- end }}
{{- end }}
{{- end }}

{{- define "akvsync.namespacedRules" -}}
- apiGroups: ["external-secrets.io"]
  resources: ["externalsecrets", "secretstores", "pushsecrets"]
  verbs: ["get", "list", "watch", "update", "patch"]
- apiGroups: ["external-secrets.io"]
  resources:
    - externalsecrets/status
    - externalsecrets/finalizers
    - secretstores/status
    - secretstores/finalizers
    - pushsecrets/status
    - pushsecrets/finalizers
  verbs: ["get", "update", "patch"]
- apiGroups: ["generators.external-secrets.io"]
  resources: ["passwords", "uuids", "acraccesstokens"]
  verbs: ["get"]
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get", "list", "watch", "create", "update", "patch", "delete"]
- apiGroups: [""]
  resources: ["configmaps", "serviceaccounts"]
  verbs: ["get", "list", "watch"]
- apiGroups: [""]
  resources: ["serviceaccounts/token"]
  verbs: ["create"]
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create", "patch"]
- apiGroups: ["events.k8s.io"]
  resources: ["events"]
  verbs: ["create", "patch"]
{{- include "akvsync.genericTargetRules" . }}
{{- end }}

{{/* The chart's name, or nameOverride. */}}
{{- define "orchestrator-bot.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release's base name for objects; shortened so "-controller" still fits in 63 characters. */}}
{{- define "orchestrator-bot.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 52 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "orchestrator-bot.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Standard labels on every object. */}}
{{- define "orchestrator-bot.labels" -}}
helm.sh/chart: {{ include "orchestrator-bot.chart" . }}
{{ include "orchestrator-bot.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: orchestrator-bot
{{- end }}

{{- define "orchestrator-bot.selectorLabels" -}}
app.kubernetes.io/name: {{ include "orchestrator-bot.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Labels of one role's objects: (dict "root" $ "component" "webhook"). */}}
{{- define "orchestrator-bot.componentLabels" -}}
{{ include "orchestrator-bot.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "orchestrator-bot.componentSelectorLabels" -}}
{{ include "orchestrator-bot.selectorLabels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* Where runs, Jobs, per-user secrets, task-controller-config and the Lease live. */}}
{{- define "orchestrator-bot.runNamespace" -}}
{{- default .Release.Namespace .Values.runNamespace }}
{{- end }}

{{- define "orchestrator-bot.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{- define "orchestrator-bot.serviceAccountName" -}}
{{- printf "%s-%s" (include "orchestrator-bot.fullname" .root) .component }}
{{- end }}

{{- define "orchestrator-bot.githubSecretName" -}}
{{- default (printf "%s-github" (include "orchestrator-bot.fullname" .)) .Values.github.existingSecret }}
{{- end }}

{{/* Where the App's private key is mounted (a file, so it is not in the process environment). */}}
{{- define "orchestrator-bot.privateKeyDir" -}}
/var/run/secrets/orchestrator-bot/github
{{- end }}

{{/* The environment both roles load their settings from (bot/config.py). */}}
{{- define "orchestrator-bot.env" -}}
- name: GITHUB_APP_ID
  valueFrom:
    secretKeyRef:
      name: {{ include "orchestrator-bot.githubSecretName" . }}
      key: {{ .Values.github.secretKeys.appId }}
- name: GITHUB_PRIVATE_KEY_PATH
  value: {{ include "orchestrator-bot.privateKeyDir" . }}/{{ .Values.github.secretKeys.privateKey }}
- name: GITHUB_WEBHOOK_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ include "orchestrator-bot.githubSecretName" . }}
      key: {{ .Values.github.secretKeys.webhookSecret }}
- name: GITHUB_API_URL
  value: {{ .Values.github.apiUrl | quote }}
- name: ORCHESTRATOR_NAMESPACE
  value: {{ include "orchestrator-bot.runNamespace" . }}
- name: ORCHESTRATOR_LOG_LEVEL
  value: {{ .Values.logLevel }}
{{- if .Values.store.enabled }}
- name: ORCHESTRATOR_STORE_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "orchestrator-bot.storeSecretName" . }}
      key: {{ .Values.store.urlKey }}
- name: ORCHESTRATOR_STORE_RETENTION_DAYS
  value: {{ .Values.store.retentionDays | quote }}
{{- end }}
{{- if .Values.runPage.enabled }}
- name: ORCHESTRATOR_PUBLIC_URL
  value: {{ .Values.runPage.publicUrl | quote }}
- name: GITHUB_WEB_URL
  value: {{ .Values.runPage.githubWebUrl | quote }}
{{- range $variable, $key := dict "GITHUB_CLIENT_ID" .Values.runPage.secretKeys.clientId "GITHUB_CLIENT_SECRET" .Values.runPage.secretKeys.clientSecret "ORCHESTRATOR_SESSION_SECRET" .Values.runPage.secretKeys.sessionSecret }}
- name: {{ $variable }}
  valueFrom:
    secretKeyRef:
      name: {{ $.Values.runPage.existingSecret }}
      key: {{ $key }}
{{- end }}
{{- end }}
{{- end }}

{{/* The Secret with the store's URL: yours, or the one the chart makes for its PostgreSQL. */}}
{{- define "orchestrator-bot.storeSecretName" -}}
{{- default (printf "%s-store" (include "orchestrator-bot.fullname" .)) .Values.store.existingSecret }}
{{- end }}

{{/* The chart's own PostgreSQL runs when the store is on and no URL of yours is given. */}}
{{- define "orchestrator-bot.ownPostgres" -}}
{{- if and .Values.store.enabled (not .Values.store.existingSecret) }}true{{ end }}
{{- end }}

{{- define "orchestrator-bot.privateKeyVolume" -}}
- name: github-app
  secret:
    secretName: {{ include "orchestrator-bot.githubSecretName" . }}
    items:
      - key: {{ .Values.github.secretKeys.privateKey }}
        path: {{ .Values.github.secretKeys.privateKey }}
    # Group-readable: fsGroup makes the file's group the container's.
    defaultMode: 0440
{{- end }}

{{- define "orchestrator-bot.privateKeyMount" -}}
- name: github-app
  mountPath: {{ include "orchestrator-bot.privateKeyDir" . }}
  readOnly: true
{{- end }}

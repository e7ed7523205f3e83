{{/* Names and labels. */}}
{{- define "lmgate.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "lmgate.fullname" -}}
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

{{- define "lmgate.selectorLabels" -}}
app.kubernetes.io/name: {{ include "lmgate.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "lmgate.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "lmgate.selectorLabels" . }}
app.kubernetes.io/version: {{ include "lmgate.imageTag" . | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* The image tag: values.image.tag, else the chart's appVersion (the released package version). */}}
{{- define "lmgate.imageTag" -}}
{{- .Values.image.tag | default .Chart.AppVersion | toString }}
{{- end }}

{{- define "lmgate.image" -}}
{{- $ref := printf "%s:%s" .Values.image.repository (include "lmgate.imageTag" .) }}
{{- if .Values.image.digest }}{{ $ref = printf "%s@%s" $ref .Values.image.digest }}{{ end }}
{{- $ref }}
{{- end }}

{{- define "lmgate.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "lmgate.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "lmgate.configMapName" -}}
{{- .Values.existingConfigMap | default (include "lmgate.fullname" .) }}
{{- end }}

{{/* The Secret the pods read their environment from, or "" for none. */}}
{{- define "lmgate.secretName" -}}
{{- if .Values.existingSecret }}
{{- .Values.existingSecret }}
{{- else if or .Values.externalSecret.enabled .Values.secret.values }}
{{- include "lmgate.fullname" . }}
{{- end }}
{{- end }}

{{/*
What a running pod does not pick up by itself, hashed into a pod annotation so a change rolls the pods:
the chart-rendered Secret's values (environment is read at start), the server's arguments, and the config
keys a hot reload does not apply (shared-state connections, the store, the request log, environment_variables).
Everything else in config is hot-reloaded from the watched ConfigMap, so it is left out of the hash.
*/}}
{{- define "lmgate.restartChecksum" -}}
{{- $cfg := include "lmgate.configDict" . | fromYaml }}
{{- $router := pick ($cfg.router_settings | default dict) "redis_host" "redis_port" "redis_password" "redis_url" }}
{{- $general := pick ($cfg.general_settings | default dict) "database_url" "request_log_path" "metrics" }}
{{- $litellm := pick ($cfg.litellm_settings | default dict) "callbacks" "success_callback" "failure_callback" }}
{{- $restart := dict "secret" .Values.secret.values "server" .Values.server "router" $router "general" $general "litellm" $litellm "env" ($cfg.environment_variables | default dict) }}
{{- toJson $restart | sha256sum }}
{{- end }}

{{/* Replicas > 1 need shared state; say which setting is missing instead of rendering a broken fleet. */}}
{{- define "lmgate.checkSharedState" -}}
{{- $replicas := int .Values.replicaCount }}
{{- if .Values.autoscaling.enabled }}{{ $replicas = int .Values.autoscaling.maxReplicas }}{{ end }}
{{- if and (gt $replicas 1) (not .Values.existingConfigMap) }}
{{- $cfg := include "lmgate.configDict" . | fromYaml }}
{{- $router := $cfg.router_settings | default dict }}
{{- $general := $cfg.general_settings | default dict }}
{{- if and .Values.sharedState.requireRedis (not (or $router.redis_host $router.redis_url)) }}
{{- fail (printf "lmgate: %d replicas need Redis for quotas and cooldowns: set config.router_settings.redis_host (or redis_url), e.g. os.environ/REDIS_HOST; or sharedState.requireRedis=false to count per pod" $replicas) }}
{{- end }}
{{- $db := toString ($general.database_url | default "") }}
{{- if and .Values.sharedState.requirePostgres (or (not $db) (hasPrefix "sqlite" $db)) }}
{{- fail (printf "lmgate: %d replicas need Postgres for keys and spend: set config.general_settings.database_url to a postgresql:// URL (e.g. os.environ/DATABASE_URL); or sharedState.requirePostgres=false" $replicas) }}
{{- end }}
{{- end }}
{{- end }}

{{/* values.config is a map, or a string holding the file verbatim (comments and key order kept); unset,
the embedded mock config. */}}
{{- define "lmgate.configText" -}}
{{- if not .Values.config }}{{ .Files.Get "files/default-config.yaml" }}
{{- else if kindIs "string" .Values.config }}{{ .Values.config }}
{{- else }}{{ toYaml .Values.config }}{{ end }}
{{- end }}

{{- define "lmgate.configDict" -}}
{{- include "lmgate.configText" . | fromYaml | toYaml }}
{{- end }}

{{/*
Names, labels and the values every template derives from the same inputs.
*/}}

{{- define "recording-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The prefix of every object name; at most 52 characters so "<fullname>-operator" and friends
stay within the 63 of a label value.
*/}}
{{- define "recording-operator.fullname" -}}
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

{{- define "recording-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "recording-operator.labels" -}}
helm.sh/chart: {{ include "recording-operator.chart" . }}
{{ include "recording-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: recording-operator
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "recording-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "recording-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Labels of one component; call with (dict "ctx" $ "component" "api"). */}}
{{- define "recording-operator.componentLabels" -}}
{{ include "recording-operator.labels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "recording-operator.componentSelectorLabels" -}}
{{ include "recording-operator.selectorLabels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "recording-operator.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* ServiceAccount names; call with (dict "ctx" $ "component" "operator"). */}}
{{- define "recording-operator.serviceAccountName" -}}
{{- $sa := index .ctx.Values.serviceAccount .component }}
{{- if $sa.create }}
{{- default (printf "%s-%s" (include "recording-operator.fullname" .ctx) .component) $sa.name }}
{{- else }}
{{- default "default" $sa.name }}
{{- end }}
{{- end }}

{{- define "recording-operator.configMapName" -}}
{{- printf "%s-config" (include "recording-operator.fullname" .) }}
{{- end }}

{{- define "recording-operator.tokenSecretName" -}}
{{- default (printf "%s-api-token" (include "recording-operator.fullname" .)) .Values.api.existingSecret }}
{{- end }}

{{- define "recording-operator.tokenSecretKey" -}}
{{- if .Values.api.existingSecret }}{{ .Values.api.existingSecretKey }}{{ else }}token{{ end }}
{{- end }}

{{- define "recording-operator.claimName" -}}
{{- default (printf "%s-recordings" (include "recording-operator.fullname" .)) .Values.persistence.existingClaim }}
{{- end }}

{{/* The namespace of an app's Recordings when it names none. */}}
{{- define "recording-operator.defaultNamespace" -}}
{{- default .Release.Namespace .Values.config.namespace }}
{{- end }}

{{/*
Every namespace Recordings live in (each app's, else the default one), sorted, as a JSON list:
the operator watches these, and the Roles and the recorder ServiceAccount are made in each.
*/}}
{{- define "recording-operator.namespaces" -}}
{{- $default := include "recording-operator.defaultNamespace" . }}
{{- $seen := dict }}
{{- range $vhost, $vcfg := .Values.config.vhosts }}
{{- range $app, $acfg := $vcfg.apps }}
{{- $_ := set $seen (default $default $acfg.namespace) true }}
{{- end }}
{{- end }}
{{- keys $seen | sortAlpha | toJson }}
{{- end }}

{{/*
The config file: the user's vhosts with each app's storage defaulted (the PVC in the release
namespace when persistence is on) and the recorder section derived from the chart's values.
*/}}
{{- define "recording-operator.config" -}}
{{- $default := include "recording-operator.defaultNamespace" . }}
{{- $vhosts := dict }}
{{- range $vhost, $vcfg := .Values.config.vhosts }}
{{- $apps := dict }}
{{- range $app, $acfg := $vcfg.apps }}
{{- $out := deepCopy $acfg }}
{{- range $key := list "filePath" "infoPath" }}
{{- with (get $acfg $key) }}
{{- $parts := splitList "/" . }}
{{- if or (hasPrefix "/" .) (has "." $parts) (has ".." $parts) (contains "\\" .) }}
{{- fail (printf "config.vhosts.%s.apps.%s.%s: %q must stay inside the storage root (a relative path without '.' or '..' segments)" $vhost $app $key .) }}
{{- end }}
{{- end }}
{{- end }}
{{- $ns := default $default $acfg.namespace }}
{{- if and (not $acfg.storage) $.Values.persistence.enabled }}
{{- if ne $ns $.Release.Namespace }}
{{- fail (printf "config.vhosts.%s.apps.%s: its Recordings live in namespace %q but the recordings claim (persistence) is in %q; give this app a storage of its own" $vhost $app $ns $.Release.Namespace) }}
{{- end }}
{{- $storage := dict "volume" (dict "persistentVolumeClaim" (dict "claimName" (include "recording-operator.claimName" $))) }}
{{- with $.Values.persistence.subPath }}
{{- $_ := set $storage "subPath" . }}
{{- end }}
{{- $_ := set $out "storage" $storage }}
{{- end }}
{{- $_ := set $apps $app $out }}
{{- end }}
{{- $_ := set $vhosts $vhost (dict "apps" $apps) }}
{{- end }}
{{- $recorder := dict
  "image" (include "recording-operator.image" .)
  "imagePullPolicy" .Values.image.pullPolicy
  "serviceAccountName" (include "recording-operator.serviceAccountName" (dict "ctx" . "component" "recorder"))
  "resources" .Values.recorder.resources
  "terminationGracePeriodSeconds" .Values.recorder.terminationGracePeriodSeconds
  "runAsUser" (default 10001 .Values.podSecurityContext.runAsUser | int)
  "env" .Values.recorder.env }}
{{- $config := dict
  "namespace" $default
  "timezone" .Values.config.timezone
  "legacyStartRecordArray" .Values.config.legacyStartRecordArray
  "recorder" $recorder
  "vhosts" $vhosts }}
{{- with (.Values.config.catalogue | default dict).url }}
{{- $_ := set $config "catalogue" (dict "url" .) }}
{{- end }}
{{- toYaml $config }}
{{- end }}

{{/* The pod-level pieces both Deployments share. */}}
{{- define "recording-operator.podCommon" -}}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
enableServiceLinks: false
{{- end }}

{{- define "recording-operator.rbacRules" -}}
{{- $rules := .Files.Get "files/rbac.yaml" | fromYaml }}
{{- $rules | toJson }}
{{- end }}

{{/*
The catalogue in a cluster (issue 15): on when config.catalogue.url is set. The delivery
Deployment sends it every finished file as a signed CloudEvent, so it needs the recordings
claim; several API replicas need one shared database (PostgreSQL), not a file each.
Renders "true" or nothing.
*/}}
{{- define "recording-operator.catalogueEnabled" -}}
{{- with (.Values.config.catalogue | default dict).url }}
{{- if not $.Values.persistence.enabled }}
{{- fail "config.catalogue.url: the catalogue is fed by the delivery Deployment, which reads the recordings claim: set persistence.enabled: true" }}
{{- end }}
{{- if and (gt (int $.Values.api.replicaCount) 1) (not (hasPrefix "postgresql" .)) }}
{{- fail (printf "config.catalogue.url: %d API replicas cannot share a SQLite file; use postgresql://user@host/db (or api.replicaCount: 1)" (int $.Values.api.replicaCount)) }}
{{- end }}
{{- "true" }}
{{- end }}
{{- end }}

{{- define "recording-operator.catalogueSecretName" -}}
{{- default (printf "%s-catalogue" (include "recording-operator.fullname" .)) .Values.config.catalogue.existingSecret }}
{{- end }}

{{- define "recording-operator.catalogueSecretKey" -}}
{{- if .Values.config.catalogue.existingSecret }}{{ .Values.config.catalogue.existingSecretKey }}{{ else }}secret{{ end }}
{{- end }}

{{/* Where the delivery posts the catalogue's events: the API Service, inside the cluster. */}}
{{- define "recording-operator.catalogueReceiver" -}}
{{- printf "%s://%s-api.%s.svc:%v%s/catalogue/events" (ternary "https" "http" .Values.api.tls.enabled) (include "recording-operator.fullname" .) .Release.Namespace .Values.api.service.port (.Values.api.prefix | trimSuffix "/") }}
{{- end }}

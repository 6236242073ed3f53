{{/*
The chart name, or nameOverride.
*/}}
{{- define "herald.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The full name of the release's resources: <release>-<name>, or just <release>
when it already contains the name, or fullnameOverride. At most 63 characters
(the limit of DNS labels).
*/}}
{{- define "herald.fullname" -}}
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

{{/*
Chart name and version, for the helm.sh/chart label.
*/}}
{{- define "herald.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels of every resource.
*/}}
{{- define "herald.labels" -}}
helm.sh/chart: {{ include "herald.chart" . }}
{{ include "herald.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: gateway
{{- end }}

{{/*
Labels that select the pods; never change them in an upgrade (a Deployment's
selector is immutable).
*/}}
{{- define "herald.selectorLabels" -}}
app.kubernetes.io/name: {{ include "herald.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "herald.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "herald.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The Secret holding credentials: existingSecret, or the one the chart creates.
*/}}
{{- define "herald.secretName" -}}
{{- default (include "herald.fullname" .) .Values.existingSecret }}
{{- end }}

{{/*
The image reference: repository@digest when a digest is given, else
repository:tag with the tag defaulting to the chart's appVersion.
*/}}
{{- define "herald.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
Grace period before SIGKILL: it must cover the preStop pause and the whole
drain, or Kubernetes kills pods while they still close connections.
*/}}
{{- define "herald.terminationGracePeriodSeconds" -}}
{{- $needed := add (int .Values.preStopSleepSeconds) (int .Values.herald.drainSeconds) }}
{{- if kindIs "invalid" .Values.terminationGracePeriodSeconds }}
{{- add $needed 15 }}
{{- else if le (int .Values.terminationGracePeriodSeconds) (int $needed) }}
{{- fail (printf "terminationGracePeriodSeconds (%d) must be longer than preStopSleepSeconds + herald.drainSeconds (%d), or pods are killed in the middle of their drain" (int .Values.terminationGracePeriodSeconds) (int $needed)) }}
{{- else }}
{{- int .Values.terminationGracePeriodSeconds }}
{{- end }}
{{- end }}

{{/*
Checks that cannot be said in values.schema.json; fails the install with a
message that names the values to set. Renders nothing.
*/}}
{{- define "herald.validate" -}}
{{- $modes := list }}
{{- if .Values.redis.url }}{{ $modes = append $modes "redis.url" }}{{ end }}
{{- if or .Values.redis.sentinel.hosts .Values.redis.sentinel.masterName }}{{ $modes = append $modes "redis.sentinel" }}{{ end }}
{{- if .Values.redis.cluster.nodes }}{{ $modes = append $modes "redis.cluster.nodes" }}{{ end }}
{{- if gt (len $modes) 1 }}
{{- fail (printf "set one Redis mode, not %s" (join " and " $modes)) }}
{{- end }}
{{- if and (eq (len $modes) 0) (not .Values.existingSecret) }}
{{- fail "Herald pods share messages through Redis: set redis.url (standalone), redis.sentinel.hosts and redis.sentinel.masterName (Sentinel), or redis.cluster.nodes (Cluster), or put redis-url in existingSecret" }}
{{- end }}
{{- if and .Values.redis.sentinel.hosts (not .Values.redis.sentinel.masterName) }}
{{- fail "redis.sentinel.masterName is required with redis.sentinel.hosts" }}
{{- end }}
{{- if and .Values.redis.sentinel.masterName (not .Values.redis.sentinel.hosts) }}
{{- fail "redis.sentinel.hosts is required with redis.sentinel.masterName" }}
{{- end }}
{{- if and .Values.autoscaling.enabled (gt (int .Values.autoscaling.minReplicas) (int .Values.autoscaling.maxReplicas)) }}
{{- fail "autoscaling.minReplicas is larger than autoscaling.maxReplicas" }}
{{- end }}
{{- if and .Values.autoscaling.enabled (kindIs "invalid" .Values.autoscaling.targetCPUUtilizationPercentage) (not .Values.autoscaling.connectionsPerPod.enabled) }}
{{- fail "autoscaling needs a metric: set autoscaling.targetCPUUtilizationPercentage or enable autoscaling.connectionsPerPod" }}
{{- end }}
{{- end }}

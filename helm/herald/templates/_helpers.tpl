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
Labels of every resource, without app.kubernetes.io/component.
*/}}
{{- define "herald.commonLabels" -}}
helm.sh/chart: {{ include "herald.chart" . }}
{{ include "herald.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
Labels of the gateway's resources and pods. The metrics Service and the
`helm test` pod say component metrics and test instead.
*/}}
{{- define "herald.labels" -}}
{{ include "herald.commonLabels" . }}
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

{{/*
The Herald pods and nothing else (not the `helm test` pod, which shares
selectorLabels): what the Services, the PodDisruptionBudget, the
NetworkPolicy and the topology spread select.
*/}}
{{- define "herald.podSelectorLabels" -}}
{{ include "herald.selectorLabels" . }}
app.kubernetes.io/component: gateway
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
The data of the chart's Secret (base64 values) as JSON, the same for every
template of one render: generated credentials are drawn once (each include
would otherwise draw new ones, and the checksum/secret annotation would hash
credentials that are not the Secret's), and on an upgrade they are the ones
the cluster already holds (lookup), so that install and upgrade hash the same
data and the first `helm upgrade` does not roll every pod. The memo lives in
.Values, the one map Helm shares between the templates of a render; it is not
a value.
*/}}
{{- define "herald.secretData" -}}
{{- if not (hasKey .Values "__heraldSecretData") }}
{{- $previous := dict }}
{{- $found := lookup "v1" "Secret" .Release.Namespace (include "herald.fullname" .) }}
{{- if and $found $found.data }}
{{- $previous = $found.data }}
{{- end }}
{{- $keyConfigured := or .Values.auth.jwtSecret .Values.auth.jwtPublicKey .Values.herald.jwt.jwksUrl }}
{{- $data := dict }}
{{- if .Values.auth.jwtSecret }}
{{- $_ := set $data "jwt-secret" (.Values.auth.jwtSecret | b64enc) }}
{{- else if and (not $keyConfigured) .Values.auth.generateJwtSecret }}
{{- $_ := set $data "jwt-secret" (index $previous "jwt-secret" | default (randAlphaNum 48 | b64enc)) }}
{{- end }}
{{- with .Values.auth.jwtPublicKey }}
{{- $_ := set $data "jwt-public-key" (. | b64enc) }}
{{- end }}
{{- if .Values.auth.apiKeys }}
{{- $_ := set $data "api-keys" (join "," .Values.auth.apiKeys | b64enc) }}
{{- else if .Values.auth.generateApiKey }}
{{- $_ := set $data "api-keys" (index $previous "api-keys" | default (randAlphaNum 40 | b64enc)) }}
{{- end }}
{{- if eq .Values.broker "redis" }}
{{- with .Values.redis.url }}
{{- $_ := set $data "redis-url" (. | b64enc) }}
{{- end }}
{{- with .Values.redis.password }}
{{- $_ := set $data "redis-password" (. | b64enc) }}
{{- end }}
{{- end }}
{{- $_ := set .Values "__heraldSecretData" $data }}
{{- end }}
{{- index .Values "__heraldSecretData" | toJson }}
{{- end }}

{{/*
What rolls the pods when credentials change: a hash of the chart's Secret
data, or of the name of existingSecret (whose content the chart does not see).
*/}}
{{- define "herald.secretChecksum" -}}
{{- if .Values.existingSecret }}
{{- printf "existingSecret:%s" .Values.existingSecret | sha256sum }}
{{- else }}
{{- include "herald.secretData" . | sha256sum }}
{{- end }}
{{- end }}

{{/*
resources.limits.memory in bytes, or nothing when there is no memory limit.
Accepts Kubernetes quantities with a binary (Ki Mi Gi Ti) or decimal (k M G T)
suffix, or none (bytes).
*/}}
{{- define "herald.memoryLimitBytes" -}}
{{- $raw := dig "limits" "memory" "" (.Values.resources | default dict) }}
{{- if kindIs "string" $raw }}
{{- if $raw }}
{{- $number := regexFind "^[0-9]+(\\.[0-9]+)?" $raw }}
{{- $suffix := trimPrefix $number $raw }}
{{- $factors := dict "" 1 "k" 1000 "Ki" 1024 "M" 1000000 "Mi" 1048576 "G" 1000000000 "Gi" 1073741824 "T" 1000000000000 "Ti" 1099511627776 }}
{{- if or (not $number) (not (hasKey $factors $suffix)) }}
{{- fail (printf "resources.limits.memory %q: the chart reads a number with Ki, Mi, Gi, Ti, k, M, G or T (e.g. 1Gi), or bytes" $raw) }}
{{- end }}
{{- mulf (float64 $number) (index $factors $suffix) | floor | int64 }}
{{- end }}
{{- else if not (kindIs "invalid" $raw) }}
{{- int64 $raw }}
{{- end }}
{{- end }}

{{/*
The most memory one connection can hold, in KiB (values.yaml, memorySizing).
*/}}
{{- define "herald.connectionWorstCaseKiB" -}}
{{- $limits := .Values.herald.limits }}
{{- $kib := int64 .Values.memorySizing.connectionKiB }}
{{- $kib = add $kib (div (add (int64 $limits.maxBackpressure) 1023) 1024) }}
{{- $kib = add $kib (div (add (int64 $limits.maxMessageSize) 1024 1023) 1024) }}
{{- $kib = add $kib (div (add (mul 2 (int64 $limits.maxPayload)) 1023) 1024) }}
{{- $kib }}
{{- end }}

{{/*
HERALD_MAX_CONNECTIONS: herald.limits.maxConnections when it fits the memory
limit by the sizing formula, the most that fit when it is null; fails when an
explicit value (or 0, unlimited) does not fit and memorySizing.enforce is on.
Without a memory limit: the value as given, null meaning unlimited.
*/}}
{{- define "herald.maxConnections" -}}
{{- $explicit := .Values.herald.limits.maxConnections }}
{{- $limitBytes := include "herald.memoryLimitBytes" . }}
{{- if not $limitBytes }}
{{- if kindIs "invalid" $explicit }}0{{ else }}{{ int64 $explicit }}{{ end }}
{{- else }}
{{- $sizing := .Values.memorySizing }}
{{- $perConnection := include "herald.connectionWorstCaseKiB" . | int64 }}
{{- $budget := sub (div (div (mul (int64 $limitBytes) (int64 $sizing.limitPercent)) 100) 1024) (mul (int64 $sizing.baseMiB) 1024) }}
{{- $fit := 0 }}
{{- if gt $budget 0 }}{{ $fit = div $budget $perConnection }}{{ end }}
{{- if kindIs "invalid" $explicit }}
{{- if lt $fit 1 }}
{{- fail (printf "resources.limits.memory (%s) leaves no room for a connection: %d %% of it must exceed memorySizing.baseMiB (%d MiB) plus %d KiB per connection" (toString .Values.resources.limits.memory) (int64 $sizing.limitPercent) (int64 $sizing.baseMiB) $perConnection) }}
{{- end }}
{{- $fit }}
{{- else if and $sizing.enforce (or (eq (int64 $explicit) 0) (gt (int64 $explicit) $fit)) }}
{{- fail (printf "herald.limits.maxConnections %s does not fit resources.limits.memory (%s): at %d KiB per connection (memorySizing) at most %d connections stay within %d %% of it; raise the memory limit, lower maxConnections, maxBackpressure, maxMessageSize or maxPayload, or set memorySizing.enforce false to accept the risk of an OOM kill" (ternary "0 (unlimited)" (toString (int64 $explicit)) (eq (int64 $explicit) 0)) (toString .Values.resources.limits.memory) $perConnection $fit (int64 $sizing.limitPercent)) }}
{{- else }}
{{- int64 $explicit }}
{{- end }}
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
{{- if eq .Values.broker "memory" }}
{{- if $modes }}
{{- fail (printf "broker: memory runs without Redis, but %s is set: remove it, or use broker: redis" (join " and " $modes)) }}
{{- end }}
{{- if .Values.autoscaling.enabled }}
{{- fail "broker: memory keeps messages inside one pod, and an HPA would add pods that never see each other's messages: set autoscaling.enabled false and replicaCount 1, or use broker: redis with a Redis" }}
{{- end }}
{{- if gt (int .Values.replicaCount) 1 }}
{{- fail (printf "broker: memory keeps messages inside one pod, so replicaCount %d would make %d isolated nodes: set replicaCount 1, or use broker: redis with a Redis" (int .Values.replicaCount) (int .Values.replicaCount)) }}
{{- end }}
{{- else }}
{{- if gt (len $modes) 1 }}
{{- fail (printf "set one Redis mode, not %s" (join " and " $modes)) }}
{{- end }}
{{- if and (eq (len $modes) 0) (not .Values.existingSecret) }}
{{- fail "Herald pods share messages through Redis: set redis.url (standalone), redis.sentinel.hosts and redis.sentinel.masterName (Sentinel), or redis.cluster.nodes (Cluster), or put redis-url in existingSecret; for a single pod without Redis, set broker: memory" }}
{{- end }}
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
{{- $maxConnections := include "herald.maxConnections" . | int64 }}
{{- if and .Values.autoscaling.enabled .Values.autoscaling.connectionsPerPod.enabled (gt $maxConnections 0) (ge (int64 .Values.autoscaling.connectionsPerPod.targetAverageValue) $maxConnections) }}
{{- fail (printf "autoscaling.connectionsPerPod.targetAverageValue (%d) must be below the pods' connection cap (%d, herald.limits.maxConnections): pods refuse connections over the cap, so the average would never reach the target and the HPA would never add pods for connections" (int64 .Values.autoscaling.connectionsPerPod.targetAverageValue) $maxConnections) }}
{{- end }}
{{- end }}

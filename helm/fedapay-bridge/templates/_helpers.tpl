{{/*
Chart name, truncated to 63 characters (a DNS label).
*/}}
{{- define "fedapay-bridge.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name: <release>-<chart>, or the release name when it already contains the chart name.
Kept to 52 characters so that suffixes such as "-worker-headless" still fit in 63.
*/}}
{{- define "fedapay-bridge.fullname" -}}
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

{{/*
Chart name and version for the helm.sh/chart label.
*/}}
{{- define "fedapay-bridge.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Selector labels of the release.
*/}}
{{- define "fedapay-bridge.selectorLabels" -}}
app.kubernetes.io/name: {{ include "fedapay-bridge.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Labels of every resource.
*/}}
{{- define "fedapay-bridge.labels" -}}
helm.sh/chart: {{ include "fedapay-bridge.chart" . }}
{{ include "fedapay-bridge.selectorLabels" . }}
{{- if .Chart.AppVersion }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: fedapay-bridge
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
Labels of one component's resources. Call with (dict "root" $ "component" "receiver").
*/}}
{{- define "fedapay-bridge.componentLabels" -}}
{{ include "fedapay-bridge.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/*
Selector labels of one component. Call with (dict "root" $ "component" "receiver").
*/}}
{{- define "fedapay-bridge.componentSelectorLabels" -}}
{{ include "fedapay-bridge.selectorLabels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/*
Resource names of the parts.
*/}}
{{- define "fedapay-bridge.receiver.fullname" -}}
{{- printf "%s-receiver" (include "fedapay-bridge.fullname" .) }}
{{- end }}

{{- define "fedapay-bridge.worker.fullname" -}}
{{- printf "%s-worker" (include "fedapay-bridge.fullname" .) }}
{{- end }}

{{- define "fedapay-bridge.worker.headless" -}}
{{- printf "%s-worker-headless" (include "fedapay-bridge.fullname" .) }}
{{- end }}

{{/*
The label that sets the workers' headless Service apart from their query Service (same selector
labels), so that the workers' ServiceMonitor scrapes each pod once.
*/}}
{{- define "fedapay-bridge.headlessLabel" -}}
fedapay-bridge/service: headless
{{- end }}

{{- define "fedapay-bridge.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "fedapay-bridge.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The image reference: repository@digest, or repository:tag (tag defaults to appVersion).
*/}}
{{- define "fedapay-bridge.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
Name of the Secret holding the webhook secrets.
*/}}
{{- define "fedapay-bridge.webhookSecretName" -}}
{{- default (printf "%s-webhooks" (include "fedapay-bridge.fullname" .)) .Values.webhooks.existingSecret }}
{{- end }}

{{/*
Key of the webhook Secret holding one endpoint's secrets. Call with the endpoint.
*/}}
{{- define "fedapay-bridge.webhookSecretKey" -}}
{{- default .name .secretKey }}
{{- end }}

{{/*
The settings-variable form of an endpoint name: upper case, "-" becomes "_".
*/}}
{{- define "fedapay-bridge.endpointVar" -}}
{{- .name | upper | replace "-" "_" }}
{{- end }}

{{/*
Where secret files are mounted in the containers.
*/}}
{{- define "fedapay-bridge.webhookSecretsDir" -}}/etc/fedapay-bridge/webhooks{{- end }}
{{- define "fedapay-bridge.kafkaSaslDir" -}}/etc/fedapay-bridge/kafka-sasl{{- end }}
{{- define "fedapay-bridge.kafkaCaDir" -}}/etc/fedapay-bridge/kafka-ca{{- end }}
{{- define "fedapay-bridge.kafkaClientDir" -}}/etc/fedapay-bridge/kafka-client{{- end }}

{{/*
True ("true") when the Kafka connection uses SASL / TLS.
*/}}
{{- define "fedapay-bridge.kafkaUsesSasl" -}}
{{- if hasPrefix "SASL_" .Values.kafka.securityProtocol }}true{{- end }}
{{- end }}

{{- define "fedapay-bridge.kafkaUsesTls" -}}
{{- if has .Values.kafka.securityProtocol (list "SSL" "SASL_SSL") }}true{{- end }}
{{- end }}

{{/*
Checks that fail the render with a message naming the value to fix.
*/}}
{{- define "fedapay-bridge.validate" -}}
{{- if and (include "fedapay-bridge.kafkaUsesSasl" .) (not .Values.kafka.sasl.existingSecret) }}
{{- fail "kafka.sasl.existingSecret is required when kafka.securityProtocol is SASL_PLAINTEXT or SASL_SSL" }}
{{- end }}
{{- if and (include "fedapay-bridge.kafkaUsesSasl" .) (not .Values.kafka.sasl.usernameKey) (not .Values.kafka.sasl.username) }}
{{- fail "SASL needs a username: set kafka.sasl.username or kafka.sasl.usernameKey" }}
{{- end }}
{{- $names := list }}
{{- range .Values.webhooks.endpoints }}
{{- if has .name $names }}
{{- fail (printf "webhooks.endpoints: the name %q appears twice" .name) }}
{{- end }}
{{- $names = append $names .name }}
{{- end }}
{{- $stop := include "fedapay-bridge.receiver.stopSeconds" . | int }}
{{- if and .Values.receiver.enabled (lt (int .Values.receiver.terminationGracePeriodSeconds) $stop) }}
{{- fail (printf "receiver.terminationGracePeriodSeconds (%d) must cover receiver.preStopSeconds + 1 s of connection drain + receiver.settings.publishTimeoutSeconds + 5 s of shutdown margin: at least %d" (int .Values.receiver.terminationGracePeriodSeconds) $stop) }}
{{- end }}
{{- if and .Values.worker.enabled .Values.worker.persistence.enabled (ne .Values.worker.settings.store "rocksdb") }}
{{- fail "worker.persistence.enabled needs worker.settings.store=rocksdb (the memory store keeps nothing on disk)" }}
{{- end }}
{{- end }}

{{/*
Seconds a receiver pod needs from the start of its termination to its exit: the preStop sleep,
the connection drain after SIGTERM (1 s, ingress/server.py) and aiohttp's graceful shutdown, whose
timeout is the publish timeout + 5 s (ingress.server.runner_options).
*/}}
{{- define "fedapay-bridge.receiver.stopSeconds" -}}
{{- $publish := .Values.receiver.settings.publishTimeoutSeconds | float64 | ceil | int }}
{{- add (int .Values.receiver.preStopSeconds) 1 $publish 5 }}
{{- end }}

{{/*
The FEDAPAY_BRIDGE_* settings every process shares: Kafka connection, topic prefix, logging.
Rendered as ConfigMap data.
*/}}
{{- define "fedapay-bridge.commonSettings" -}}
FEDAPAY_BRIDGE_KAFKA_BOOTSTRAP_SERVERS: {{ .Values.kafka.bootstrapServers | quote }}
FEDAPAY_BRIDGE_KAFKA_SECURITY_PROTOCOL: {{ .Values.kafka.securityProtocol | quote }}
{{- if include "fedapay-bridge.kafkaUsesSasl" . }}
FEDAPAY_BRIDGE_KAFKA_SASL_MECHANISM: {{ .Values.kafka.sasl.mechanism | quote }}
{{- if .Values.kafka.sasl.usernameKey }}
FEDAPAY_BRIDGE_KAFKA_SASL_USERNAME_FILE: {{ printf "%s/username" (include "fedapay-bridge.kafkaSaslDir" .) | quote }}
{{- else }}
FEDAPAY_BRIDGE_KAFKA_SASL_USERNAME: {{ .Values.kafka.sasl.username | quote }}
{{- end }}
FEDAPAY_BRIDGE_KAFKA_SASL_PASSWORD_FILE: {{ printf "%s/password" (include "fedapay-bridge.kafkaSaslDir" .) | quote }}
{{- if .Values.kafka.sasl.plainWithoutTls }}
FEDAPAY_BRIDGE_KAFKA_SASL_PLAIN_WITHOUT_TLS: "true"
{{- end }}
{{- end }}
{{- if include "fedapay-bridge.kafkaUsesTls" . }}
{{- if .Values.kafka.tls.caSecret }}
FEDAPAY_BRIDGE_KAFKA_SSL_CA_FILE: {{ printf "%s/ca.crt" (include "fedapay-bridge.kafkaCaDir" .) | quote }}
{{- end }}
{{- if .Values.kafka.tls.clientSecret }}
FEDAPAY_BRIDGE_KAFKA_SSL_CERT_FILE: {{ printf "%s/tls.crt" (include "fedapay-bridge.kafkaClientDir" .) | quote }}
FEDAPAY_BRIDGE_KAFKA_SSL_KEY_FILE: {{ printf "%s/tls.key" (include "fedapay-bridge.kafkaClientDir" .) | quote }}
{{- end }}
{{- end }}
FEDAPAY_BRIDGE_TOPIC_PREFIX: {{ .Values.kafka.topicPrefix | quote }}
FEDAPAY_BRIDGE_LOG_LEVEL: {{ .Values.log.level | quote }}
FEDAPAY_BRIDGE_LOG_FORMAT: {{ .Values.log.format | quote }}
OTEL_TRACES_EXPORTER: {{ .Values.tracing.exporter | quote }}
{{- with .Values.tracing.otlpEndpoint }}
OTEL_EXPORTER_OTLP_ENDPOINT: {{ . | quote }}
{{- end }}
{{- with .Values.tracing.sampler }}
OTEL_TRACES_SAMPLER: {{ . | quote }}
{{- end }}
{{- with .Values.tracing.samplerArg }}
OTEL_TRACES_SAMPLER_ARG: {{ . | quote }}
{{- end }}
{{- end }}

{{/*
Volumes for the Kafka credentials (SASL password file, CA, client certificate).
*/}}
{{- define "fedapay-bridge.kafkaVolumes" -}}
{{- if include "fedapay-bridge.kafkaUsesSasl" . }}
- name: kafka-sasl
  secret:
    secretName: {{ .Values.kafka.sasl.existingSecret }}
    defaultMode: 0440
    items:
      - key: {{ .Values.kafka.sasl.passwordKey }}
        path: password
      {{- if .Values.kafka.sasl.usernameKey }}
      - key: {{ .Values.kafka.sasl.usernameKey }}
        path: username
      {{- end }}
{{- end }}
{{- if and (include "fedapay-bridge.kafkaUsesTls" .) .Values.kafka.tls.caSecret }}
- name: kafka-ca
  secret:
    secretName: {{ .Values.kafka.tls.caSecret }}
    defaultMode: 0444
    items:
      - key: {{ .Values.kafka.tls.caKey }}
        path: ca.crt
{{- end }}
{{- if and (include "fedapay-bridge.kafkaUsesTls" .) .Values.kafka.tls.clientSecret }}
- name: kafka-client
  secret:
    secretName: {{ .Values.kafka.tls.clientSecret }}
    defaultMode: 0440
    items:
      - key: {{ .Values.kafka.tls.certKey }}
        path: tls.crt
      - key: {{ .Values.kafka.tls.keyKey }}
        path: tls.key
{{- end }}
{{- end }}

{{- define "fedapay-bridge.kafkaVolumeMounts" -}}
{{- if include "fedapay-bridge.kafkaUsesSasl" . }}
- name: kafka-sasl
  mountPath: {{ include "fedapay-bridge.kafkaSaslDir" . }}
  readOnly: true
{{- end }}
{{- if and (include "fedapay-bridge.kafkaUsesTls" .) .Values.kafka.tls.caSecret }}
- name: kafka-ca
  mountPath: {{ include "fedapay-bridge.kafkaCaDir" . }}
  readOnly: true
{{- end }}
{{- if and (include "fedapay-bridge.kafkaUsesTls" .) .Values.kafka.tls.clientSecret }}
- name: kafka-client
  mountPath: {{ include "fedapay-bridge.kafkaClientDir" . }}
  readOnly: true
{{- end }}
{{- end }}

{{/*
The /tmp emptyDir every container gets (the root filesystem is read-only).
*/}}
{{- define "fedapay-bridge.tmpVolume" -}}
- name: tmp
  emptyDir:
    sizeLimit: {{ .Values.tmpSizeLimit }}
{{- end }}

{{- define "fedapay-bridge.tmpVolumeMount" -}}
- name: tmp
  mountPath: /tmp
{{- end }}

{{/*
The receiver's own FEDAPAY_BRIDGE_* settings (ConfigMap data).
*/}}
{{- define "fedapay-bridge.receiverSettings" -}}
{{- $s := .Values.receiver.settings }}
{{- $names := list }}
{{- range .Values.webhooks.endpoints }}
{{- $names = append $names .name }}
{{- end }}
FEDAPAY_BRIDGE_HTTP_HOST: "0.0.0.0"
FEDAPAY_BRIDGE_HTTP_PORT: "8080"
FEDAPAY_BRIDGE_WEBHOOKS: {{ join "," $names | quote }}
{{- range .Values.webhooks.endpoints }}
FEDAPAY_BRIDGE_WEBHOOK_{{ include "fedapay-bridge.endpointVar" . }}_SECRETS_FILE: {{ printf "%s/%s" (include "fedapay-bridge.webhookSecretsDir" $) .name | quote }}
{{- end }}
FEDAPAY_BRIDGE_SIGNATURE_TOLERANCE: {{ $s.signatureTolerance | int64 | quote }}
FEDAPAY_BRIDGE_MAX_BODY_BYTES: {{ $s.maxBodyBytes | int64 | quote }}
FEDAPAY_BRIDGE_MAX_BODY_READS: {{ $s.maxBodyReads | int64 | quote }}
FEDAPAY_BRIDGE_MAX_HEADER_LINE_BYTES: {{ $s.maxHeaderLineBytes | int64 | quote }}
FEDAPAY_BRIDGE_MAX_HEADERS: {{ $s.maxHeaders | int64 | quote }}
FEDAPAY_BRIDGE_HEADER_TIMEOUT_SECONDS: {{ $s.headerTimeoutSeconds | quote }}
FEDAPAY_BRIDGE_KEEPALIVE_TIMEOUT_SECONDS: {{ $s.keepaliveTimeoutSeconds | quote }}
FEDAPAY_BRIDGE_PUBLISH_TIMEOUT_SECONDS: {{ $s.publishTimeoutSeconds | quote }}
FEDAPAY_BRIDGE_RETRY_AFTER_SECONDS: {{ $s.retryAfterSeconds | int64 | quote }}
FEDAPAY_BRIDGE_ALLOWED_CIDRS: {{ join "," $s.allowedCidrs | quote }}
FEDAPAY_BRIDGE_TRUSTED_PROXIES: {{ join "," $s.trustedProxies | quote }}
FEDAPAY_BRIDGE_RATE_LIMIT_PER_SECOND: {{ $s.rateLimitPerSecond | quote }}
FEDAPAY_BRIDGE_RATE_LIMIT_BURST: {{ $s.rateLimitBurst | int64 | quote }}
FEDAPAY_BRIDGE_PRODUCER_LINGER_MS: {{ $s.producerLingerMs | int64 | quote }}
FEDAPAY_BRIDGE_PRODUCER_COMPRESSION: {{ $s.producerCompression | quote }}
FEDAPAY_BRIDGE_UVLOOP: {{ $s.uvloop | quote }}
{{- end }}

{{/*
The workers' own FEDAPAY_BRIDGE_* settings (ConfigMap data). WEB_HOST and WORKER_ID differ per
pod and are set in the StatefulSet from the pod's name.
*/}}
{{- define "fedapay-bridge.workerSettings" -}}
{{- $s := .Values.worker.settings }}
{{ include "fedapay-bridge.topicSettings" . }}
FEDAPAY_BRIDGE_STORE: {{ $s.store | quote }}
FEDAPAY_BRIDGE_DATA_DIR: {{ $s.dataDir | quote }}
FEDAPAY_BRIDGE_ROCKSDB_WRITE_BUFFER_BYTES: {{ $s.rocksdbWriteBufferBytes | int64 | quote }}
FEDAPAY_BRIDGE_ROCKSDB_MAX_WRITE_BUFFERS: {{ $s.rocksdbMaxWriteBuffers | int64 | quote }}
FEDAPAY_BRIDGE_ROCKSDB_BLOCK_CACHE_BYTES: {{ $s.rocksdbBlockCacheBytes | int64 | quote }}
FEDAPAY_BRIDGE_DEDUP_WINDOW_SECONDS: {{ $s.dedupWindowSeconds | int64 | quote }}
FEDAPAY_BRIDGE_DEDUP_SWEEP_INTERVAL_SECONDS: {{ $s.dedupSweepIntervalSeconds | int64 | quote }}
FEDAPAY_BRIDGE_PROCESSING_GUARANTEE: {{ $s.processingGuarantee | quote }}
FEDAPAY_BRIDGE_KEEP_ACCOUNT: {{ $s.keepAccount | quote }}
FEDAPAY_BRIDGE_PERSONAL_DATA: {{ $s.personalData | quote }}
FEDAPAY_BRIDGE_STALE_DELIVERY_ANOMALIES: {{ $s.staleDeliveryAnomalies | quote }}
FEDAPAY_BRIDGE_CREATE_TOPICS: {{ $s.createTopics | quote }}
FEDAPAY_BRIDGE_COMMIT_INTERVAL_SECONDS: {{ $s.commitIntervalSeconds | quote }}
FEDAPAY_BRIDGE_SESSION_TIMEOUT_SECONDS: {{ $s.sessionTimeoutSeconds | quote }}
FEDAPAY_BRIDGE_WEB_BIND: "0.0.0.0"
FEDAPAY_BRIDGE_WEB_PORT: {{ $s.webPort | int64 | quote }}
{{- end }}

{{/*
What `topics create` and the workers share about topics: the app id (it names the table
changelog topics), partitions and replication factor of the topics they create.
*/}}
{{- define "fedapay-bridge.topicSettings" -}}
FEDAPAY_BRIDGE_APP_ID: {{ .Values.worker.settings.appId | quote }}
FEDAPAY_BRIDGE_TOPIC_PARTITIONS: {{ .Values.topics.partitions | int64 | quote }}
FEDAPAY_BRIDGE_TOPIC_REPLICATION_FACTOR: {{ .Values.topics.replicationFactor | int64 | quote }}
{{- end }}

{{/*
Checksum of the chart-made configuration a component's pods read, in a pod annotation: the pods
roll when it changes. Covers the component's settings, the shared settings and the values behind
the chart-made webhook Secret. Secrets made outside the chart are not seen: restart the pods (or
change a pod annotation) after rotating them.
Call with (dict "root" $ "component" "receiver").
*/}}
{{- define "fedapay-bridge.configChecksum" -}}
{{- $root := .root }}
{{- $parts := list (include "fedapay-bridge.commonSettings" $root) (include (printf "fedapay-bridge.%sSettings" .component) $root) (toJson $root.Values.kafka) }}
{{- if eq .component "receiver" }}
{{- $endpoints := list }}
{{- range $root.Values.webhooks.endpoints }}
{{- $endpoints = append $endpoints (omit . "secrets") }}
{{- end }}
{{- $parts = append $parts (toJson (dict "endpoints" $endpoints "existingSecret" $root.Values.webhooks.existingSecret)) }}
{{- end }}
{{- join "\n" $parts | sha256sum }}
{{- end }}

{{/*
checksum/secrets of the receiver pods: rolls them when `webhooks.endpoints[].secrets` change, without
publishing a plain hash of the secrets (anyone who can read pods could test guesses offline). The
hash is salted with a random value kept in the chart-made Secret under the key `.checksum-salt`
(read with lookup, made once like the random endpoint secrets). Without a cluster to look up (first
install, `helm template`) the salt is a fresh random value: the annotation then changes on each
render (one extra roll on the first upgrade; GitOps renders: use webhooks.existingSecret). Empty with
webhooks.existingSecret: a Secret made outside the chart is not read at template time.
Call with the root context.
*/}}
{{- define "fedapay-bridge.secretsChecksum" -}}
{{- if not .Values.webhooks.existingSecret }}
{{- $existing := lookup "v1" "Secret" .Release.Namespace (include "fedapay-bridge.webhookSecretName" .) }}
{{- $salt := "" }}
{{- if and $existing $existing.data (hasKey $existing.data ".checksum-salt") }}
{{- $salt = index $existing.data ".checksum-salt" | b64dec }}
{{- else }}
{{- $salt = randAlphaNum 40 }}
{{- end }}
{{- $secrets := list }}
{{- range .Values.webhooks.endpoints }}
{{- $secrets = append $secrets (dict "name" .name "secrets" (.secrets | default list)) }}
{{- end }}
{{- printf "%s\n%s" $salt (toJson $secrets) | sha256sum }}
{{- end }}
{{- end }}

{{/*
Topology spread constraints with the component's selector filled in where missing.
Call with (dict "root" $ "component" "receiver" "constraints" list).
*/}}
{{- define "fedapay-bridge.topologySpread" -}}
{{- $root := .root }}
{{- $component := .component }}
{{- range .constraints }}
{{- $c := deepCopy . }}
{{- if not $c.labelSelector }}
{{- $_ := set $c "labelSelector" (dict "matchLabels" (fromYaml (include "fedapay-bridge.componentSelectorLabels" (dict "root" $root "component" $component)))) }}
{{- end }}
- {{ toYaml $c | nindent 2 | trim }}
{{- end }}
{{- end }}

{{/*
Egress rules of the NetworkPolicies: DNS anywhere, the Kafka brokers on their ports.
*/}}
{{- define "fedapay-bridge.egressRules" -}}
- ports:
    - port: 53
      protocol: UDP
    - port: 53
      protocol: TCP
- ports:
    {{- range .Values.networkPolicy.egress.kafkaPorts }}
    - port: {{ . }}
      protocol: TCP
    {{- end }}
  {{- with .Values.networkPolicy.egress.kafkaTo }}
  to:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}

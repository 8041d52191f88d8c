{{/*
Name of the Secret holding the workers' query token.
*/}}
{{- define "fedapay-bridge.queryTokenSecretName" -}}
{{- default (printf "%s-query-token" (include "fedapay-bridge.fullname" .)) .Values.worker.queryToken.existingSecret }}
{{- end }}

{{/*
Where the query token is mounted in the workers and the test pod.
*/}}
{{- define "fedapay-bridge.queryTokenDir" -}}/etc/fedapay-bridge/query-token{{- end }}

{{/*
The query token's volume (a pod's volumes list item).
*/}}
{{- define "fedapay-bridge.queryTokenVolume" -}}
- name: query-token
  secret:
    secretName: {{ include "fedapay-bridge.queryTokenSecretName" . }}
    defaultMode: 0440
    items:
      - key: {{ .Values.worker.queryToken.secretKey }}
        path: token
{{- end }}

{{/*
The query token's mount (a container's volumeMounts list item).
*/}}
{{- define "fedapay-bridge.queryTokenVolumeMount" -}}
- name: query-token
  mountPath: {{ include "fedapay-bridge.queryTokenDir" . }}
  readOnly: true
{{- end }}

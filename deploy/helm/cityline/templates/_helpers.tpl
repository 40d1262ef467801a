{{/* Names, labels and the pieces every pod of the chart shares. */}}

{{- define "cityline.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "cityline.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* A component's Kubernetes name: segmentService -> <release>-segment-service */}}
{{- define "cityline.componentName" -}}
{{- printf "%s-%s" (include "cityline.fullname" .root) (kebabcase .component) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "cityline.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "cityline.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: cityline
{{- end -}}

{{- define "cityline.selectorLabels" -}}
app.kubernetes.io/name: {{ include "cityline.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ kebabcase .component }}
{{- end -}}

{{- define "cityline.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{- define "cityline.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "cityline.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "cityline.secretName" -}}
{{- required "existingSecret is required: a Secret with DATABASE_URL, AMQP_URL, LINE_CHANNEL_SECRET, LINE_CHANNEL_ACCESS_TOKEN, FIELD_ENCRYPTION_KEYS, BLIND_INDEX_KEY and INTERNAL_TOKEN_VERIFY_KEYS" .Values.existingSecret -}}
{{- end -}}

{{/* The Secret with INTERNAL_TOKEN_SIGNING_KEY: only for components that sign internal API tokens. */}}
{{- define "cityline.signingKeySecretName" -}}
{{- required "signingKeySecret is required: a Secret of its own with INTERNAL_TOKEN_SIGNING_KEY, given only to admin-ui" .Values.signingKeySecret -}}
{{- end -}}

{{/* Settings from the ConfigMap and secrets from the existing Secret, for every container. */}}
{{- define "cityline.envFrom" -}}
- configMapRef:
    name: {{ include "cityline.fullname" . }}
- secretRef:
    name: {{ include "cityline.secretName" . }}
{{- end -}}

{{/* envFrom of a component's container: the shared settings and secrets, and the signing key's
     Secret for a component that signs internal API tokens (admin-ui), for no other. */}}
{{- define "cityline.componentEnvFrom" -}}
{{ include "cityline.envFrom" .root }}
{{- if .spec.signsInternalTokens }}
- secretRef:
    name: {{ include "cityline.signingKeySecretName" .root }}
{{- end }}
{{- end -}}

{{/* Pods roll when the shared settings change. */}}
{{- define "cityline.podAnnotations" -}}
checksum/config: {{ include (print .Template.BasePath "/configmap.yaml") . | sha256sum }}
{{- end -}}

{{- define "cityline.tmpVolume" -}}
- name: tmp
  emptyDir:
    sizeLimit: {{ .Values.tmpVolume.sizeLimit }}
{{- end -}}

{{- define "cityline.tmpVolumeMount" -}}
- name: tmp
  mountPath: /tmp
{{- end -}}

{{/* Values that are valid one by one but wrong together fail the render with a reason. */}}
{{- define "cityline.checks" -}}
{{- range $component, $spec := .Values.components }}
{{- if $spec.enabled }}
{{- $least := ternary $spec.autoscaling.minReplicas $spec.replicaCount $spec.autoscaling.enabled | int }}
{{- if ge (int $spec.pdb.minAvailable) $least }}
{{- fail (printf "components.%s: pdb.minAvailable (%d) must be below its replicas (%d), or no node could ever be drained" $component (int $spec.pdb.minAvailable) $least) }}
{{- end }}
{{- if and $spec.autoscaling.enabled (gt (int $spec.autoscaling.minReplicas) (int $spec.autoscaling.maxReplicas)) }}
{{- fail (printf "components.%s: autoscaling.minReplicas is above maxReplicas" $component) }}
{{- end }}
{{- range $caller := $spec.allowFrom }}
{{- if and (ne $caller "ingressController") (not (hasKey $.Values.components $caller)) }}
{{- fail (printf "components.%s.allowFrom: %q is neither a component nor ingressController" $component $caller) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- $signers := list }}
{{- range $component, $spec := .Values.components }}
{{- if and $spec.enabled $spec.signsInternalTokens }}{{ $signers = append $signers $component }}{{ end }}
{{- end }}
{{- if $signers }}
{{- $_ := include "cityline.signingKeySecretName" . }}
{{- if eq .Values.signingKeySecret .Values.existingSecret }}
{{- fail "signingKeySecret must be a Secret of its own, not existingSecret: every pod gets existingSecret, only admin-ui the signing key" }}
{{- end }}
{{- end }}
{{- if and .Values.ingress.enabled (not (or .Values.ingress.webhookHost .Values.ingress.adminHost .Values.liff.host)) }}
{{- fail "ingress.enabled needs ingress.webhookHost and/or ingress.adminHost" }}
{{- end }}
{{- if and .Values.liff.host (not .Values.ingress.enabled) }}
{{- fail "liff.host needs ingress.enabled (the page is published through the ingress)" }}
{{- end }}
{{- if and .Values.liff.host (not .Values.config.LINE_LOGIN_CHANNEL_ID) }}
{{- fail "liff.host needs config.LINE_LOGIN_CHANNEL_ID (without it segment-service serves no /liff/)" }}
{{- end }}
{{- end -}}

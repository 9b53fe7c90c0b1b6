{{/* NOTES.txt is {{ include "weir.notes" . }}, so the offline tests can render it (helm template skips NOTES.txt). */}}
{{- define "weir.notes" -}}
{{- $fullname := include "weir.fullname" . -}}
{{- $n := int .Values.replicas -}}
{{- $ea := .Values.externalAccess -}}
Weir {{ default .Chart.AppVersion .Values.image.tag }}: {{ if eq $n 1 }}1 broker (node id 0){{ else }}{{ $n }} brokers (Raft voters, node ids 0 … {{ sub $n 1 }}){{ end }}, cluster id {{ include "weir.clusterId" . }}.

Wait for the brokers to be ready:

  kubectl -n {{ .Release.Namespace }} rollout status statefulset/{{ $fullname }}

Inside the cluster, bootstrap with:

  {{ $fullname }}.{{ .Release.Namespace }}.svc.{{ .Values.clusterDomain }}:{{ .Values.service.port }}

For example, with kcat from a throwaway pod:

  kubectl -n {{ .Release.Namespace }} run kcat --rm -it --restart=Never --image=edenhill/kcat:1.7.1 -- \
    -b {{ $fullname }}.{{ .Release.Namespace }}.svc.{{ .Values.clusterDomain }}:{{ .Values.service.port }} -L

{{- if $ea.enabled }}

External access ({{ $ea.type }}): every broker advertises its own external address, so clients
inside the cluster are given these addresses too.
{{- range $i := until $n }}
  broker {{ $i }}: {{ if eq $ea.type "NodePort" }}{{ if $ea.nodePort.host }}{{ $ea.nodePort.host }}{{ else }}<IP of the node running {{ $fullname }}-{{ $i }}>{{ end }}:{{ include "weir.nodePort" (list $ $i) }}{{ else }}{{ include "weir.externalAddress" (list $ $i) }}{{ end }}
{{- end }}
Bootstrap from outside with any of them.
{{- end }}

Metrics, /livez and /readyz: port {{ .Values.ports.http }} of each pod{{ if .Values.metrics.serviceMonitor.enabled }} (scraped by the ServiceMonitor {{ $fullname }}){{ end }}.
{{- if eq $n 1 }}

This is a single broker: no replication, no fault tolerance, no PodDisruptionBudget. Use
replicas=3 or more for anything that matters.
{{- else if eq (mod $n 2) 0 }}

{{ $n }} voters tolerate the loss of {{ div (sub $n 1) 2 }}, as {{ sub $n 1 }} do: an odd count is the better buy.
{{- end }}
{{- if .Values.tls.enabled }}

TLS: the Secret {{ .Values.tls.secretName }} is mounted at {{ .Values.tls.mountPath }}, but the broker does not
serve TLS yet; clients connect in plaintext.
{{- end }}
{{- end -}}

{{/*
Names. Cut at 40 characters: the StatefulSet's pods (<fullname>-N), its controller revision
label (<fullname>-<hash>), the headless Service (<fullname>-headless), the external Services
(<fullname>-N-external) and the PVCs (data-<fullname>-N) must all stay within 63.
*/}}
{{- define "weir.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 40 | trimSuffix "-" -}}
{{- end -}}

{{- define "weir.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "weir.headless" -}}
{{- printf "%s-headless" (include "weir.fullname" .) -}}
{{- end -}}

{{- define "weir.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "weir.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "weir.selectorLabels" -}}
app.kubernetes.io/name: {{ include "weir.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "weir.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "weir.selectorLabels" . }}
app.kubernetes.io/version: {{ default .Chart.AppVersion .Values.image.tag | trunc 63 | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: weir
{{- end -}}

{{- define "weir.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* The stable DNS name of broker $i (headless Service): "weir.podHost" (list $ $i). */}}
{{- define "weir.podHost" -}}
{{- $ := index . 0 -}}
{{- $i := index . 1 -}}
{{- printf "%s-%d.%s.%s.svc.%s" (include "weir.fullname" $) (int $i) (include "weir.headless" $) $.Release.Namespace $.Values.clusterDomain -}}
{{- end -}}

{{/* --voters: id@host:raft-port for every broker, ids = pod ordinals. */}}
{{- define "weir.voters" -}}
{{- $voters := list -}}
{{- range $i := until (int .Values.replicas) -}}
{{- $voters = append $voters (printf "%d@%s:%d" $i (include "weir.podHost" (list $ $i)) (int $.Values.ports.raft)) -}}
{{- end -}}
{{- join "," $voters -}}
{{- end -}}

{{/*
cluster.id: from values, else base64url (no padding) of the first 16 bytes of
sha256("<release>/<namespace>"): a Kafka Uuid string, the same on every render. Sprig has no
hex decoding, so the 32 hex digits are encoded by hand: each 3 hex digits (12 bits) are two
base64 characters; the last 2 hex digits (8 bits) are one character and one of 2 bits + 4 zero
bits.
*/}}
{{- define "weir.clusterId" -}}
{{- if .Values.clusterId -}}
{{- .Values.clusterId -}}
{{- else -}}
{{- $hex := sha256sum (printf "%s/%s" .Release.Name .Release.Namespace) | trunc 32 -}}
{{- $digit := dict "0" 0 "1" 1 "2" 2 "3" 3 "4" 4 "5" 5 "6" 6 "7" 7 "8" 8 "9" 9 "a" 10 "b" 11 "c" 12 "d" 13 "e" 14 "f" 15 -}}
{{- $alphabet := "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_" -}}
{{- $out := "" -}}
{{- range $g := until 10 -}}
{{- $at := mul $g 3 | int -}}
{{- $v := add (mul (get $digit (substr $at (add $at 1 | int) $hex)) 256) (mul (get $digit (substr (add $at 1 | int) (add $at 2 | int) $hex)) 16) (get $digit (substr (add $at 2 | int) (add $at 3 | int) $hex)) -}}
{{- $out = printf "%s%s%s" $out (substr (div $v 64 | int) (add (div $v 64) 1 | int) $alphabet) (substr (mod $v 64 | int) (add (mod $v 64) 1 | int) $alphabet) -}}
{{- end -}}
{{- $last := add (mul (get $digit (substr 30 31 $hex)) 16) (get $digit (substr 31 32 $hex)) -}}
{{- printf "%s%s%s" $out (substr (div $last 4 | int) (add (div $last 4) 1 | int) $alphabet) (substr (mul (mod $last 4) 16 | int) (add (mul (mod $last 4) 16) 1 | int) $alphabet) -}}
{{- end -}}
{{- end -}}

{{/* A property value as Java's properties reader should see it: integral floats (helm reads
every number as float64) without exponent, lists comma-separated. */}}
{{- define "weir.propertyValue" -}}
{{- $v := . -}}
{{- if kindIs "float64" $v -}}
{{- if eq $v (floor $v) -}}{{ printf "%d" (int64 $v) }}{{- else -}}{{ $v }}{{- end -}}
{{- else if kindIs "slice" $v -}}
{{- $parts := list -}}
{{- range $v }}{{ $parts = append $parts (include "weir.propertyValue" .) }}{{ end -}}
{{- join "," $parts -}}
{{- else -}}
{{- $v -}}
{{- end -}}
{{- end -}}

{{/* weir.properties, the ConfigMap's only key. Depends on `config` alone (not on replicas). */}}
{{- define "weir.properties" -}}
# Weir broker settings (Kafka property names), from the chart's `config` value.
{{- range $key, $value := .Values.config }}
{{ $key }}={{ include "weir.propertyValue" $value }}
{{- end }}
{{ end -}}

{{/* A setting's effective value as a string: from `config`, else "". */}}
{{- define "weir.configValue" -}}
{{- $ := index . 0 -}}
{{- $key := index . 1 -}}
{{- if hasKey $.Values.config $key -}}{{ include "weir.propertyValue" (get $.Values.config $key) }}{{- end -}}
{{- end -}}

{{/* Replication factor default: min(3, replicas). */}}
{{- define "weir.defaultReplicationFactor" -}}
{{- min 3 (int .Values.replicas) -}}
{{- end -}}

{{/*
Refuses values that render a broken cluster. Included by the StatefulSet.
*/}}
{{- define "weir.validate" -}}
{{- $n := int .Values.replicas -}}
{{- if lt $n 1 -}}
{{- fail (printf "replicas=%d: need at least 1 broker" $n) -}}
{{- end -}}
{{- if eq $n 2 -}}
{{- fail "replicas=2: a Raft majority of 2 voters is 2, so losing either broker stops the cluster (worse than 1). Use 1 (development) or 3 or more." -}}
{{- end -}}
{{- if and .Values.pdb.enabled (ge $n 3) -}}
{{- $tolerated := div (sub $n 1) 2 -}}
{{- $maxUnavailable := int .Values.pdb.maxUnavailable -}}
{{- if lt $maxUnavailable 1 -}}
{{- fail (printf "pdb.maxUnavailable=%d: must be at least 1, or node drains never finish" $maxUnavailable) -}}
{{- end -}}
{{- if gt $maxUnavailable (int $tolerated) -}}
{{- fail (printf "pdb.maxUnavailable=%d with replicas=%d: a majority of %d voters must stay up, so at most %d may be disrupted at once" $maxUnavailable $n (add (div $n 2) 1) $tolerated) -}}
{{- end -}}
{{- end -}}
{{- $drain := int .Values.drain.timeoutSeconds -}}
{{- $grace := int .Values.terminationGracePeriodSeconds -}}
{{- if lt $grace (add $drain 10 | int) -}}
{{- fail (printf "terminationGracePeriodSeconds=%d must exceed drain.timeoutSeconds=%d by at least 10 s (the preStop drain runs inside the grace period, then the broker needs time to shut down cleanly)" $grace $drain) -}}
{{- end -}}
{{- range $key := list "node.id" "broker.id" "log.dir" "log.dirs" "listeners" "advertised.listeners" "raft.listeners" "cluster.id" "weir.http.listen" "controller.quorum.voters" -}}
{{- if hasKey $.Values.config $key -}}
{{- fail (printf "config.%s: the chart sets this itself (from the pod ordinal, the ports and the release); remove it from config" $key) -}}
{{- end -}}
{{- end -}}
{{- range $key, $value := .Values.config -}}
{{- if kindIs "map" $value -}}
{{- fail (printf "config.%s: a property value must be a string, number, boolean or list" $key) -}}
{{- end -}}
{{- if contains "\n" (include "weir.propertyValue" $value) -}}
{{- fail (printf "config.%s: a property value cannot span lines" $key) -}}
{{- end -}}
{{- end -}}
{{- $rf := int (default (include "weir.defaultReplicationFactor" .) (include "weir.configValue" (list . "default.replication.factor"))) -}}
{{- if gt $rf $n -}}
{{- fail (printf "config.default.replication.factor=%d exceeds replicas=%d: topics could not be created" $rf $n) -}}
{{- end -}}
{{- $orf := int (default (include "weir.defaultReplicationFactor" .) (include "weir.configValue" (list . "offsets.topic.replication.factor"))) -}}
{{- if gt $orf $n -}}
{{- fail (printf "config.offsets.topic.replication.factor=%d exceeds replicas=%d: consumer groups could not commit offsets" $orf $n) -}}
{{- end -}}
{{- $minIsr := include "weir.configValue" (list . "min.insync.replicas") -}}
{{- if and $minIsr (gt (int $minIsr) $rf) -}}
{{- fail (printf "config.min.insync.replicas=%s exceeds the replication factor %d: acks=all produce would always fail" $minIsr $rf) -}}
{{- end -}}
{{- if .Values.externalAccess.enabled -}}
{{- $ea := .Values.externalAccess -}}
{{- if eq $ea.type "NodePort" -}}
{{- if $ea.nodePort.nodePorts -}}
{{- if lt (len $ea.nodePort.nodePorts) $n -}}
{{- fail (printf "externalAccess.nodePort.nodePorts lists %d ports for %d brokers: give one per broker (or leave it empty for basePort + ordinal)" (len $ea.nodePort.nodePorts) $n) -}}
{{- end -}}
{{- else if gt (add (int $ea.nodePort.basePort) (sub $n 1)) 32767 -}}
{{- fail (printf "externalAccess.nodePort.basePort=%d: broker %d would get node port %d, beyond 32767" (int $ea.nodePort.basePort) (sub $n 1) (add (int $ea.nodePort.basePort) (sub $n 1))) -}}
{{- end -}}
{{- else if eq $ea.type "LoadBalancer" -}}
{{- if and (not $ea.loadBalancer.domain) (lt (len $ea.loadBalancer.addresses) $n) -}}
{{- fail (printf "externalAccess.type=LoadBalancer: each broker must advertise its own address; set externalAccess.loadBalancer.addresses (one per broker, %d given for %d brokers) or externalAccess.loadBalancer.domain" (len $ea.loadBalancer.addresses) $n) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- if and .Values.tls.enabled (not .Values.tls.secretName) -}}
{{- fail "tls.enabled: set tls.secretName to the Secret to mount" -}}
{{- end -}}
{{- end -}}

{{/*
The container's shell wrapper: node id = the pod ordinal (the hostname's suffix), then
`exec weir serve` with the rendered voter list. Its own variables carry no WEIR_ prefix (the
broker reads WEIR_* as settings).
*/}}
{{- define "weir.serveScript" -}}
{{- $fullname := include "weir.fullname" . -}}
{{- $ea := .Values.externalAccess -}}
set -eu
ordinal="${HOSTNAME##*-}"
case "$ordinal" in
  ''|*[!0-9]*) echo "weir: cannot take a node id from HOSTNAME=$HOSTNAME (expected NAME-ORDINAL)" >&2; exit 1 ;;
esac
{{- if not $ea.enabled }}
advertised="$HOSTNAME.{{ include "weir.headless" . }}.{{ .Release.Namespace }}.svc.{{ .Values.clusterDomain }}:{{ .Values.ports.kafka }}"
{{- else if and (eq $ea.type "NodePort") (not $ea.nodePort.nodePorts) }}
advertised="$EXTERNAL_HOST:$(({{ $ea.nodePort.basePort }} + ordinal))"
{{- else }}
case "$ordinal" in
{{- range $i := until (int .Values.replicas) }}
  {{ $i }}) advertised="{{ include "weir.externalAddress" (list $ $i) }}" ;;
{{- end }}
  *) echo "weir: no external address for broker $ordinal (external addresses are rendered for {{ .Values.replicas }} brokers)" >&2; exit 1 ;;
esac
{{- end }}
exec weir serve \
  --node-id "$ordinal" \
  --data-dir /var/lib/weir/data \
  --config /etc/weir/config/weir.properties \
  --listen 0.0.0.0:{{ .Values.ports.kafka }} \
  --raft-listen 0.0.0.0:{{ .Values.ports.raft }} \
  --http-listen 0.0.0.0:{{ .Values.ports.http }} \
  --voters {{ include "weir.voters" . }} \
  --advertised-listener "$advertised" \
  --log-format {{ .Values.logFormat }}
{{- end -}}

{{/* The external address broker $i advertises when it is known at render time. */}}
{{- define "weir.externalAddress" -}}
{{- $ := index . 0 -}}
{{- $i := index . 1 -}}
{{- $ea := $.Values.externalAccess -}}
{{- if eq $ea.type "NodePort" -}}
{{- printf "$EXTERNAL_HOST:%d" (int (index $ea.nodePort.nodePorts $i)) -}}
{{- else if gt (len $ea.loadBalancer.addresses) $i -}}
{{- printf "%s:%d" (index $ea.loadBalancer.addresses $i) (int $ea.loadBalancer.port) -}}
{{- else -}}
{{- printf "%s-%d.%s:%d" (include "weir.fullname" $) $i $ea.loadBalancer.domain (int $ea.loadBalancer.port) -}}
{{- end -}}
{{- end -}}

{{/* The node port of broker $i. */}}
{{- define "weir.nodePort" -}}
{{- $ := index . 0 -}}
{{- $i := index . 1 -}}
{{- $np := $.Values.externalAccess.nodePort -}}
{{- if $np.nodePorts -}}{{ index $np.nodePorts $i | int }}{{- else -}}{{ add (int $np.basePort) $i }}{{- end -}}
{{- end -}}

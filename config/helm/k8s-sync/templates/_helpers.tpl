{{/* The release's full name: the release name when it already says k8s-sync, else <release>-k8s-sync. */}}
{{- define "k8s-sync.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "k8s-sync.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "k8s-sync.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "k8s-sync.selectorLabels" -}}
app.kubernetes.io/name: k8s-sync
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "k8s-sync.labels" -}}
{{ include "k8s-sync.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* Leader election is on with more than one replica, or when the config turns it on. */}}
{{- define "k8s-sync.leaderElection" -}}
{{- $le := .Values.config.leaderElection | default dict -}}
{{- if gt (int .Values.replicas) 1 -}}
{{- if and (hasKey $le "enabled") (not $le.enabled) -}}
{{- fail (printf "replicas is %d but config.leaderElection.enabled is false: several replicas would all write to the sinks; remove that key or set replicas: 1" (int .Values.replicas)) -}}
{{- end -}}
true
{{- else if $le.enabled -}}
true
{{- end -}}
{{- end -}}

{{/* The daemon's config file: the values' config, with the settings the chart owns. */}}
{{- define "k8s-sync.config" -}}
{{- $cfg := deepCopy .Values.config -}}
{{- $daemon := get $cfg "daemon" | default dict -}}
{{- $_ := set $daemon "http" (merge (dict "host" "0.0.0.0" "port" (int .Values.metrics.port)) (omit (get $daemon "http" | default dict) "port")) -}}
{{- $_ := set $cfg "daemon" $daemon -}}
{{- if include "k8s-sync.leaderElection" . -}}
{{- $le := get $cfg "leaderElection" | default dict -}}
{{- $_ := set $le "enabled" true -}}
{{- $_ := set $le "namespace" .Release.Namespace -}}
{{- $_ := set $le "leaseName" (get $le "leaseName" | default (include "k8s-sync.fullname" .)) -}}
{{- $_ := set $cfg "leaderElection" $le -}}
{{- end -}}
{{- toYaml $cfg -}}
{{- end -}}

{{/* What the config turns on, for the RBAC rules. */}}
{{- define "k8s-sync.readinessGate" -}}
{{- $r := .Values.config.rollout | default dict -}}
{{- $g := get $r "readinessGate" | default dict -}}
{{- if $g.enabled -}}true{{- end -}}
{{- end -}}
{{- define "k8s-sync.kruise" -}}
{{- $r := .Values.config.rollout | default dict -}}
{{- $k := get $r "kruise" | default dict -}}
{{- if $k.enabled -}}true{{- end -}}
{{- end -}}
{{- define "k8s-sync.events" -}}
{{- $s := .Values.config.status | default dict -}}
{{- $e := get $s "events" | default dict -}}
{{- if or (not (hasKey $e "enabled")) $e.enabled -}}true{{- end -}}
{{- end -}}

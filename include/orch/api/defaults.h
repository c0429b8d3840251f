// Kubernetes defaulting for the built-in kinds.
//
// SetDefaults(object) fills, in place, every field Kubernetes' API server would fill when
// the object is created (its SetDefaults_* functions for the kind's group/version, plus
// the request-level default of metadata.namespace = "default" for namespaced kinds).
// Defaulting only fills absent fields: a field the manifest set is never changed, so
// defaulting is idempotent and SetDefaults(SetDefaults(x)) == SetDefaults(x).
//
// The Scheme wires these as each built-in Kind's `defaulter`, so the codec applies them
// to every decoded object before validation (orch/api/validation.h). Controllers that
// build objects (a ReplicaSet from a Deployment, a Pod from a template) may call them too.
//
// What is defaulted (Kubernetes' core/v1, apps/v1, discovery/v1 and scheduling/v1 rules):
//   PodSpec (in Pods and in templates):
//     restartPolicy Always; terminationGracePeriodSeconds 30; dnsPolicy ClusterFirst;
//     schedulerName "default-scheduler"; a volume with no source gets emptyDir {};
//     secret/configMap/downwardAPI/projected volumes defaultMode 0644 (420); hostPath
//     type ""; service account token projections expirationSeconds 3600; every resource
//     list (requests, limits, overhead) rounded up to milli precision.
//   Container (containers and initContainers):
//     imagePullPolicy Always when the image has tag ":latest" or no tag and no digest,
//     else IfNotPresent; terminationMessagePath "/dev/termination-log";
//     terminationMessagePolicy File; ports' protocol TCP; env fieldRef apiVersion "v1".
//   Probe (liveness, readiness, startup):
//     timeoutSeconds 1, periodSeconds 10, successThreshold 1, failureThreshold 3 (when
//     absent or 0, as in Kubernetes where 0 means unset); httpGet path "/" and scheme HTTP
//     (also in lifecycle handlers).
//   Pod only (not templates), as Kubernetes' SetDefaults_Pod: a container resource with a
//     limit and no request gets the limit as its request; enableServiceLinks true; with
//     hostNetwork, each container port's hostPort = containerPort.
//   Deployment (apps/v1): replicas 1; strategy RollingUpdate with maxUnavailable 25% and
//     maxSurge 25%; revisionHistoryLimit 10; progressDeadlineSeconds 600; the template's
//     pod spec as above. The selector is NOT defaulted (apps/v1 requires it).
//   ReplicaSet (apps/v1): replicas 1; the template's pod spec as above; selector not
//     defaulted.
//   Service: type ClusterIP; sessionAffinity None (and then no sessionAffinityConfig;
//     ClientIP gets timeoutSeconds 10800); ports' protocol TCP and targetPort = port when
//     unset (or 0 or ""); externalTrafficPolicy Cluster when externally accessible
//     (NodePort, LoadBalancer, or externalIPs); internalTrafficPolicy Cluster for
//     ClusterIP, NodePort and LoadBalancer; allocateLoadBalancerNodePorts true and
//     ingress ipMode VIP for LoadBalancer.
//   Namespace: status.phase Active; label kubernetes.io/metadata.name = name.
//   Node: status.allocatable = status.capacity when allocatable is empty; resource lists
//     rounded up to milli.
//   EndpointSlice: each port's protocol TCP and name "" when absent.
//   PriorityClass: preemptionPolicy PreemptLowerPriority.
//   Event, Lease: only metadata.namespace.
// Taints and tolerations have no defaults in Kubernetes (an empty toleration operator
// means Equal), and neither do they here. Neither is pod.spec.priority resolved from
// priorityClassName here: that is admission, not defaulting.
//
// Thread safety: pure functions of their argument.
#ifndef ORCH_API_DEFAULTS_H_
#define ORCH_API_DEFAULTS_H_

#include <string>
#include <string_view>

#include "orch/api/v1/apps.pb.h"
#include "orch/api/v1/coordination.pb.h"
#include "orch/api/v1/core.pb.h"
#include "orch/api/v1/discovery.pb.h"
#include "orch/api/v1/scheduling.pb.h"

namespace orch::api {

// Per kind: fills Kubernetes' defaults in place.
void SetDefaults(v1::Namespace& ns);
void SetDefaults(v1::Node& node);
void SetDefaults(v1::Pod& pod);
void SetDefaults(v1::Service& service);
void SetDefaults(v1::Event& event);
void SetDefaults(v1::ReplicaSet& replica_set);
void SetDefaults(v1::Deployment& deployment);
void SetDefaults(v1::EndpointSlice& slice);
void SetDefaults(v1::Lease& lease);
void SetDefaults(v1::PriorityClass& priority_class);

// The pieces, for code that builds specs.
void SetPodSpecDefaults(v1::PodSpec& spec);
void SetContainerDefaults(v1::Container& container);
void SetProbeDefaults(v1::Probe& probe);

// "Always" for ":latest" or an image with neither tag nor digest, else "IfNotPresent"
// (Kubernetes' rule; "nginx@sha256:..." is IfNotPresent).
std::string DefaultImagePullPolicy(std::string_view image);

}  // namespace orch::api

#endif  // ORCH_API_DEFAULTS_H_

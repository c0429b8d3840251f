// How NodeResourcesFit's scoring strategies and NodeResourcesBalancedAllocation read a
// pod's requests and a node's allocatable and requested amounts, resource by resource
// (Kubernetes' resourceAllocationScorer).
#ifndef ORCH_SRC_SCHEDULER_PLUGINS_RESOURCE_ALLOCATION_H_
#define ORCH_SRC_SCHEDULER_PLUGINS_RESOURCE_ALLOCATION_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/inlined_vector.h"
#include "absl/types/span.h"
#include "orch/scheduler/config.pb.h"
#include "orch/scheduler/node_info.h"

namespace orch::scheduler::plugins {

// One amount per scored resource, in the order of the configured resources. Inline for
// the usual handful, so scoring a node does not allocate.
using ResourceAmounts = absl::InlinedVector<int64_t, 4>;
// What a scorer reads: one amount per scored resource.
using Amounts = absl::Span<const int64_t>;

struct ScoredResource {
  std::string name;
  int64_t weight = 1;
};

// cpu and memory with weight 1: the resources scored when the args name none.
std::vector<ScoredResource> DefaultScoredResources();
std::vector<ScoredResource> ToScoredResources(
    const google::protobuf::RepeatedPtrField<::orch::scheduler::v1::ResourceSpec>& specs);

// Reads the amounts a scorer turns into a node's score. A scorer is a callable
// `int64_t(Amounts requested, Amounts allocatable)`, one amount per scored resource;
// resources a node does not have come as allocatable 0 (and requested 0): scorers skip
// them. Scorers are passed by their own type, so that the call per node is inlined.
class ResourceAllocation {
 public:
  // `use_requested`: count cpu and memory as requested (BalancedAllocation) rather than with
  // the non-zero defaults for containers without requests (Fit's strategies).
  ResourceAllocation(std::vector<ScoredResource> resources, bool use_requested);

  const std::vector<ScoredResource>& resources() const { return resources_; }

  // The pod's request of each resource.
  ResourceAmounts PodRequests(const PodInfo& pod) const;
  // The node's score with the pod placed on it.
  template <typename Scorer>
  int64_t Score(const NodeInfo& node, const ResourceAmounts& pod_requests,
                const Scorer& scorer) const {
    const NodeInfo* one = &node;
    int64_t score = 0;
    ScoreNodes(absl::MakeConstSpan(&one, 1), pod_requests, absl::MakeSpan(&score, 1), scorer);
    return score;
  }
  // Score of each of `nodes` into `scores` (same size).
  template <typename Scorer>
  void ScoreNodes(absl::Span<const NodeInfo* const> nodes, const ResourceAmounts& pod_requests,
                  absl::Span<int64_t> scores, const Scorer& scorer) const {
    const Amounts pod(pod_requests);
    if (cpu_memory_) {
      // The default resources: two amounts each, in a loop the compiler unrolls.
      int64_t node_requested[2];
      int64_t node_allocatable[2];
      for (size_t i = 0; i < nodes.size(); ++i) {
        CpuMemoryAmounts(*nodes[i], pod, node_requested, node_allocatable);
        scores[i] = scorer(Amounts(node_requested, 2), Amounts(node_allocatable, 2));
      }
      return;
    }
    // Inline for up to four resources: scoring allocates nothing then. Plain pointers,
    // read once: the loop writes through them, so the compiler could not keep a vector's
    // own pointer in a register across nodes.
    const size_t n = resources_.size();
    ResourceAmounts requested(n);
    ResourceAmounts allocatable(n);
    int64_t* const node_requested = requested.data();
    int64_t* const node_allocatable = allocatable.data();
    for (size_t i = 0; i < nodes.size(); ++i) {
      NodeAmounts(*nodes[i], pod, node_requested, node_allocatable);
      scores[i] = scorer(Amounts(node_requested, n), Amounts(node_allocatable, n));
    }
  }

 private:
  enum class Kind { kCpu, kMemory, kEphemeralStorage, kScalar };

  // The node's requested amounts (with the pod's added) and allocatable amounts, one per
  // scored resource, into arrays of resources().size().
  void NodeAmounts(const NodeInfo& node, Amounts pod_requests, int64_t* node_requested,
                   int64_t* node_allocatable) const;
  // The same for the default resources, cpu then memory (cpu_memory_), as scheduled pods
  // requested them or with the non-zero defaults.
  void CpuMemoryAmounts(const NodeInfo& node, Amounts pod_requests, int64_t* node_requested,
                        int64_t* node_allocatable) const {
    const Resources& allocatable = node.allocatable();
    const Resources& requested = use_requested_ ? node.requested() : node.non_zero_requested();
    node_allocatable[0] = allocatable.milli_cpu;
    node_allocatable[1] = allocatable.memory;
    node_requested[0] = allocatable.milli_cpu == 0 ? 0 : requested.milli_cpu + pod_requests[0];
    node_requested[1] = allocatable.memory == 0 ? 0 : requested.memory + pod_requests[1];
  }

  std::vector<ScoredResource> resources_;
  std::vector<Kind> kinds_;  // of each resource, so that scoring compares no names
  bool cpu_memory_ = false;  // exactly cpu then memory, the default: read without a switch
  bool use_requested_;
};

}  // namespace orch::scheduler::plugins

#endif  // ORCH_SRC_SCHEDULER_PLUGINS_RESOURCE_ALLOCATION_H_

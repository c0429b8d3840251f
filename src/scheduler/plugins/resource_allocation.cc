#include "scheduler/plugins/resource_allocation.h"

#include <vector>

namespace orch::scheduler::plugins {
namespace {

// An extended resource or hugepages: read from the scalar map only ("pods" is not a request).
int64_t ScalarAmount(const Resources& resources, const std::string& name) {
  auto it = resources.scalar.find(name);
  return it == resources.scalar.end() ? 0 : it->second;
}

}  // namespace

std::vector<ScoredResource> DefaultScoredResources() {
  return {{std::string(kCpu), 1}, {std::string(kMemory), 1}};
}

std::vector<ScoredResource> ToScoredResources(
    const google::protobuf::RepeatedPtrField<::orch::scheduler::v1::ResourceSpec>& specs) {
  std::vector<ScoredResource> resources;
  for (const auto& spec : specs) resources.push_back({spec.name(), spec.weight()});
  return resources;
}

ResourceAllocation::ResourceAllocation(std::vector<ScoredResource> resources, bool use_requested)
    : resources_(std::move(resources)), use_requested_(use_requested) {
  for (const ScoredResource& r : resources_) {
    if (r.name == kCpu) {
      kinds_.push_back(Kind::kCpu);
    } else if (r.name == kMemory) {
      kinds_.push_back(Kind::kMemory);
    } else if (r.name == kEphemeralStorage) {
      kinds_.push_back(Kind::kEphemeralStorage);
    } else {
      kinds_.push_back(Kind::kScalar);
    }
  }
  cpu_memory_ = kinds_ == std::vector<Kind>{Kind::kCpu, Kind::kMemory};
}

ResourceAmounts ResourceAllocation::PodRequests(const PodInfo& pod) const {
  const Resources& requests = use_requested_ ? pod.requests() : pod.non_zero_requests();
  ResourceAmounts amounts;
  amounts.reserve(resources_.size());
  for (size_t i = 0; i < resources_.size(); ++i) {
    switch (kinds_[i]) {
      case Kind::kCpu:
        amounts.push_back(requests.milli_cpu);
        break;
      case Kind::kMemory:
        amounts.push_back(requests.memory);
        break;
      case Kind::kEphemeralStorage:
        amounts.push_back(requests.ephemeral_storage);
        break;
      case Kind::kScalar:
        amounts.push_back(ScalarAmount(requests, resources_[i].name));
        break;
    }
  }
  return amounts;
}

void ResourceAllocation::NodeAmounts(const NodeInfo& node, Amounts pod_requests,
                                     int64_t* node_requested, int64_t* node_allocatable) const {
  const Resources& allocatable = node.allocatable();
  // cpu and memory as scheduled pods requested them, or with the non-zero defaults;
  // everything else as requested.
  const Resources& requested = use_requested_ ? node.requested() : node.non_zero_requested();
  for (size_t i = 0; i < resources_.size(); ++i) {
    const int64_t pod = pod_requests[i];
    int64_t alloc = 0;
    int64_t used = 0;
    switch (kinds_[i]) {
      case Kind::kCpu:
        alloc = allocatable.milli_cpu;
        used = requested.milli_cpu;
        break;
      case Kind::kMemory:
        alloc = allocatable.memory;
        used = requested.memory;
        break;
      case Kind::kEphemeralStorage:
        alloc = allocatable.ephemeral_storage;
        used = node.requested().ephemeral_storage;
        break;
      case Kind::kScalar: {
        // An extended resource the pod does not request, or the node does not have, is
        // not scored at all.
        if (pod == 0) break;
        const std::string& name = resources_[i].name;
        auto it = allocatable.scalar.find(name);
        if (it == allocatable.scalar.end()) break;
        alloc = it->second;
        used = ScalarAmount(node.requested(), name);
        break;
      }
    }
    // A resource the node lacks is passed as 0 and 0: scorers skip it.
    node_allocatable[i] = alloc;
    node_requested[i] = alloc == 0 ? 0 : used + pod;
  }
}

}  // namespace orch::scheduler::plugins

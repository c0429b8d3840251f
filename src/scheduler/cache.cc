#include "scheduler/cache.h"

#include <algorithm>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "orch/api/encoding.h"

namespace orch::scheduler::internal {

// ------------------------------------------------------------------ nodes

namespace {

// A pod with a required anti-affinity term that reaches past its own node's hostname.
bool WideAntiAffinity(const PodInfo& pod) {
  for (const AffinityTerm& t : pod.required_anti_affinity()) {
    if (t.topology_key != kLabelHostname || t.namespace_selector.has_value()) return true;
  }
  return false;
}

}  // namespace

// Remembers whether the node's hostname label, where it has one, names another host.
void SchedulerCache::NoteHostname(const NodeInfo& info) {
  const std::string* hostname = info.Label(kLabelHostname);
  if (hostname != nullptr && *hostname != info.name()) {
    foreign_hostnames_.insert(info.name());
  } else {
    foreign_hostnames_.erase(info.name());
  }
}

absl::Status SchedulerCache::AddOrUpdateNode(std::shared_ptr<const api::v1::Node> node) {
  const std::string name = node->metadata().name();
  auto it = nodes_.find(name);
  if (it != nodes_.end()) {
    NodeInfo& info = *it->second;
    absl::flat_hash_set<std::string> old_images;
    for (const auto& [image, state] : info.images()) old_images.insert(image);
    if (!api::SameStringMap(info.node().metadata().labels(), node->metadata().labels())) {
      ++node_labels_generation_;
    }
    absl::Status status = info.SetNode(std::move(node));
    if (!status.ok()) {
      RemoveNode(name);
      return status;
    }
    NoteHostname(info);
    bool images_changed = old_images.size() != info.images().size();
    for (const std::string& image : old_images) {
      if (!info.images().contains(image)) {
        --image_nodes_[image];
        images_changed = true;
      }
    }
    for (const auto& [image, state] : info.images()) {
      if (!old_images.contains(image)) {
        ++image_nodes_[image];
        images_changed = true;
      }
    }
    if (images_changed) {
      // How many nodes hold an image is part of every holder's ImageLocality score.
      RefreshImageCounts();
      ++node_set_generation_;
    } else {
      for (const auto& [image, state] : info.images()) {
        info.set_image_num_nodes(image, image_nodes_[image]);  // SetNode reset them
      }
      Logged(&info);
    }
    return absl::OkStatus();
  }
  absl::StatusOr<NodeInfo> created = NodeInfo::Create(std::move(node));
  if (!created.ok()) return created.status();
  auto owned = std::make_unique<NodeInfo>(*std::move(created));
  NodeInfo& info = *owned;
  nodes_.emplace(name, std::move(owned));
  NoteHostname(info);
  CountImages(info, +1);
  if (!info.images().empty()) RefreshImageCounts();
  auto waiting = waiting_for_node_.find(name);
  if (waiting != waiting_for_node_.end()) {
    for (const std::string& uid : waiting->second) {
      auto pod = pods_.find(uid);
      if (pod != pods_.end() && pod->second.node == name) PlacePod(pod->second);
    }
    waiting_for_node_.erase(waiting);
  }
  NodeSetChanged();
  return absl::OkStatus();
}

void SchedulerCache::RemoveNode(std::string_view name) {
  auto it = nodes_.find(name);
  if (it == nodes_.end()) return;
  NodeInfo& info = *it->second;
  std::vector<std::string>& waiting = waiting_for_node_[std::string(name)];
  for (const PodInfoPtr& pod : info.pods()) {
    waiting.push_back(pod->uid());
    if (WideAntiAffinity(*pod)) --wide_anti_affinity_pods_;
  }
  foreign_hostnames_.erase(info.name());
  CountImages(info, -1);
  const bool had_images = !info.images().empty();
  nodes_.erase(it);
  if (had_images) RefreshImageCounts();
  NodeSetChanged();
}

NodeInfo* SchedulerCache::MutableNode(std::string_view name) {
  auto it = nodes_.find(name);
  return it == nodes_.end() ? nullptr : it->second.get();
}

const NodeInfo* SchedulerCache::Get(std::string_view node_name) const {
  auto it = nodes_.find(node_name);
  return it == nodes_.end() ? nullptr : it->second.get();
}

void SchedulerCache::NodeSetChanged() {
  order_stale_ = true;
  affinity_dirty_ = true;
  // Positions in the log refer to nodes by pointer; a removed node's pointer may come
  // back as another node, so readers start over.
  log_base_ += static_cast<int64_t>(log_.size()) + 1;
  log_.clear();
  ++node_set_generation_;
  ++node_labels_generation_;
}

// Sorting on every add would cost O(n² log n) to add n nodes; the order is rebuilt once,
// on the first read after a change.
void SchedulerCache::EnsureOrder() const {
  if (!order_stale_) return;
  ordered_.clear();
  ordered_.reserve(nodes_.size());
  for (const auto& [name, info] : nodes_) ordered_.push_back(info.get());
  std::sort(ordered_.begin(), ordered_.end(),
            [](const NodeInfo* a, const NodeInfo* b) { return a->name() < b->name(); });
  index_.clear();
  for (size_t i = 0; i < ordered_.size(); ++i) index_[ordered_[i]] = static_cast<int>(i);
  order_stale_ = false;
}

void SchedulerCache::Logged(const NodeInfo* node) {
  // Bounded: once the log holds four times as many entries as there are nodes, its older
  // half goes (a reader that far behind rescans every node, which costs the same).
  const size_t limit = 4 * std::max<size_t>(nodes_.size(), 64);
  if (log_.size() >= limit) {
    const size_t drop = log_.size() / 2;
    log_.erase(log_.begin(), log_.begin() + static_cast<std::ptrdiff_t>(drop));
    log_base_ += static_cast<int64_t>(drop);
  }
  log_.push_back(node);
}

void SchedulerCache::CountImages(const NodeInfo& node, int delta) {
  for (const auto& [image, state] : node.images()) image_nodes_[image] += delta;
}

// Every node learns how many nodes hold each of its images. O(nodes × images): only when
// a node's image list changes.
void SchedulerCache::RefreshImageCounts() {
  for (auto& [name, other] : nodes_) {
    for (const auto& [image, state] : other->images()) {
      auto count = image_nodes_.find(image);
      const int32_t n = count == image_nodes_.end() ? 0 : count->second;
      if (state.num_nodes != n) other->set_image_num_nodes(image, n);
    }
  }
}

// ------------------------------------------------------------------ pods

void SchedulerCache::PlacePod(const PodState& state) {
  NodeInfo* node = MutableNode(state.node);
  if (node == nullptr) {
    waiting_for_node_[state.node].push_back(state.pod->uid());
    return;
  }
  node->AddPod(state.pod);
  Logged(node);
  if (state.pod->has_affinity_terms()) affinity_dirty_ = true;
  if (WideAntiAffinity(*state.pod)) ++wide_anti_affinity_pods_;
}

void SchedulerCache::UnplacePod(const PodState& state) {
  NodeInfo* node = MutableNode(state.node);
  if (node == nullptr) {
    auto waiting = waiting_for_node_.find(state.node);
    if (waiting != waiting_for_node_.end()) {
      auto& uids = waiting->second;
      uids.erase(std::remove(uids.begin(), uids.end(), state.pod->uid()), uids.end());
      if (uids.empty()) waiting_for_node_.erase(waiting);
    }
    return;
  }
  const bool removed = node->RemovePod(state.pod);
  Logged(node);
  if (state.pod->has_affinity_terms()) affinity_dirty_ = true;
  if (removed && WideAntiAffinity(*state.pod)) --wide_anti_affinity_pods_;
}

void SchedulerCache::AddOrUpdatePod(PodInfoPtr pod) {
  const std::string uid = pod->uid();
  auto it = pods_.find(uid);
  if (it != pods_.end()) UnplacePod(it->second);
  PodState& state = pods_[uid];
  state.node = pod->pod().spec().node_name();
  state.pod = std::move(pod);
  state.Settle(/*assumed=*/false);
  PlacePod(state);
}

void SchedulerCache::RemovePod(std::string_view uid) {
  auto it = pods_.find(uid);
  if (it == pods_.end()) return;
  UnplacePod(it->second);
  pods_.erase(it);
}

void SchedulerCache::AssumePod(PodInfoPtr pod, const std::string& node_name) {
  const std::string uid = pod->uid();
  PodState& state = pods_[uid];
  state.pod = std::move(pod);
  state.node = node_name;
  state.Settle(/*assumed=*/true);
  PlacePod(state);
}

void SchedulerCache::FinishBinding(std::string_view uid, absl::Time now,
                                   std::string written_version) {
  auto it = pods_.find(uid);
  if (it == pods_.end() || !it->second.assumed) return;
  it->second.binding_finished = true;
  it->second.written_version = std::move(written_version);
  it->second.deadline = now + assumed_ttl_;
  next_expiry_ = std::min(next_expiry_, it->second.deadline);
}

PodInfoPtr SchedulerCache::ConfirmOwnBind(const std::shared_ptr<const api::v1::Pod>& pod) {
  auto it = pods_.find(pod->metadata().uid());
  if (it == pods_.end()) return nullptr;
  PodState& state = it->second;
  if (!state.assumed || state.written_version.empty() ||
      state.written_version != pod->metadata().resource_version() ||
      state.node != pod->spec().node_name()) {
    return nullptr;
  }
  PodInfoPtr confirmed = HoldInPlace(state, pod);
  if (confirmed != nullptr) state.Settle(/*assumed=*/false);
  return confirmed;
}

PodInfoPtr SchedulerCache::UpdateStatusOnly(const std::shared_ptr<const api::v1::Pod>& pod) {
  auto it = pods_.find(pod->metadata().uid());
  if (it == pods_.end() || it->second.assumed) return nullptr;
  PodState& state = it->second;
  const api::v1::Pod& held = state.pod->pod();
  const api::v1::ObjectMeta& was = held.metadata();
  const api::v1::ObjectMeta& now = pod->metadata();
  if (state.node != pod->spec().node_name() || was.namespace_() != now.namespace_() ||
      was.has_deletion_timestamp() != now.has_deletion_timestamp() ||
      (now.has_deletion_timestamp() &&
       !api::SameMessage(was.deletion_timestamp(), now.deletion_timestamp())) ||
      !api::SameStringMap(was.labels(), now.labels()) ||
      !api::SameMessage(held.spec(), pod->spec())) {
    return nullptr;
  }
  return HoldInPlace(state, pod);
}

PodInfoPtr SchedulerCache::HoldInPlace(PodState& state,
                                       const std::shared_ptr<const api::v1::Pod>& pod) {
  NodeInfo* node = MutableNode(state.node);
  if (node == nullptr) return nullptr;
  PodInfoPtr rebased = PodInfo::Rebased(*state.pod, pod);
  if (!node->ReplacePod(state.pod, rebased)) return nullptr;
  state.pod = rebased;
  return rebased;
}

void SchedulerCache::ForgetPod(std::string_view uid) {
  auto it = pods_.find(uid);
  if (it == pods_.end() || !it->second.assumed) return;
  UnplacePod(it->second);
  pods_.erase(it);
}

int SchedulerCache::CleanupExpired(absl::Time now) {
  if (now < next_expiry_) return 0;
  std::vector<std::string> expired;
  next_expiry_ = absl::InfiniteFuture();
  for (const auto& [uid, state] : pods_) {
    if (!state.assumed || !state.binding_finished) continue;
    if (state.deadline <= now) {
      expired.push_back(uid);
    } else {
      next_expiry_ = std::min(next_expiry_, state.deadline);
    }
  }
  std::sort(expired.begin(), expired.end());  // the same order in every run
  for (const std::string& uid : expired) ForgetPod(uid);
  return static_cast<int>(expired.size());
}

bool SchedulerCache::IsAssumed(std::string_view uid) const {
  auto it = pods_.find(uid);
  return it != pods_.end() && it->second.assumed;
}

PodInfoPtr SchedulerCache::PodOf(std::string_view uid) const {
  auto it = pods_.find(uid);
  return it == pods_.end() ? nullptr : it->second.pod;
}

// ------------------------------------------------------------------ namespaces, indexes

void SchedulerCache::SetNamespace(const std::string& name,
                                  const google::protobuf::Map<std::string, std::string>& labels) {
  namespaces_[name] = labels;
}

void SchedulerCache::RemoveNamespace(const std::string& name) { namespaces_.erase(name); }

const google::protobuf::Map<std::string, std::string>* SchedulerCache::NamespaceLabels(
    std::string_view ns) const {
  auto it = namespaces_.find(ns);
  return it == namespaces_.end() ? nullptr : &it->second;
}

const std::vector<const NodeInfo*>& SchedulerCache::nodes_with_affinity_pods() const {
  if (affinity_dirty_) {
    with_affinity_.clear();
    with_anti_affinity_.clear();
    for (const NodeInfo* node : nodes()) {
      if (!node->pods_with_affinity().empty()) with_affinity_.push_back(node);
      if (!node->pods_with_required_anti_affinity().empty()) with_anti_affinity_.push_back(node);
    }
    affinity_dirty_ = false;
  }
  return with_affinity_;
}

const std::vector<const NodeInfo*>& SchedulerCache::nodes_with_required_anti_affinity_pods()
    const {
  nodes_with_affinity_pods();
  return with_anti_affinity_;
}

}  // namespace orch::scheduler::internal

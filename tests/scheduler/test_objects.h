// Builders for the pods and nodes of scheduler tests, in the spirit of kube-scheduler's
// st.MakePod() / st.MakeNode() wrappers:
//
//   PodInfoPtr pod = MakePod("p").Label("app", "web").Req({{"cpu", "500m"}}).Info();
//   NodeInfo node = MakeNode("n1").Capacity({{"cpu", "4"}, {"pods", "110"}}).Info({pod});
//
// Anything without a dedicated setter goes through YAML merged into the spec:
//   MakePod("p").SpecYaml(R"(affinity: {podAntiAffinity: {...}})")
// A setter that fails (bad YAML, a quantity that does not parse in Info()) records a test
// failure and returns something empty, so a broken fixture never passes silently.
#ifndef ORCH_TESTS_SCHEDULER_TEST_OBJECTS_H_
#define ORCH_TESTS_SCHEDULER_TEST_OBJECTS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "orch/api/codec.h"
#include "orch/api/scheme.h"
#include "orch/api/v1/core.pb.h"
#include "orch/scheduler/node_info.h"

namespace orch::scheduler::testing {

// {{"cpu", "500m"}, {"memory", "1Gi"}}: resource name -> quantity text.
using ResourceList = std::vector<std::pair<std::string, std::string>>;

inline void FillResources(const ResourceList& list,
                          google::protobuf::Map<std::string, api::v1::Quantity>* out) {
  for (const auto& [name, value] : list) (*out)[name].set_value(value);
}

// Decodes `yaml` into `message` with the codec's strict field mapping; a test failure on
// error.
template <typename Message>
Message FromYaml(std::string_view yaml) {
  Message message;
  absl::Status status = api::DecodeMessage(yaml, "test", message);
  if (!status.ok()) ADD_FAILURE() << status;
  return message;
}

// A full manifest (apiVersion, kind; defaulted and validated as the API server would).
template <typename Object>
Object ObjectFromYaml(std::string_view yaml) {
  absl::StatusOr<Object> object = api::DecodeObject<Object>(yaml, "test", api::Scheme::Builtin());
  if (!object.ok()) {
    ADD_FAILURE() << object.status();
    return Object();
  }
  return *std::move(object);
}

class PodBuilder {
 public:
  explicit PodBuilder(std::string name) {
    pod_.mutable_metadata()->set_name(std::move(name));
    pod_.mutable_metadata()->set_namespace_("default");
  }

  PodBuilder& Namespace(std::string ns) {
    pod_.mutable_metadata()->set_namespace_(std::move(ns));
    return *this;
  }
  // Defaults to "<namespace>/<name>".
  PodBuilder& Uid(std::string uid) {
    pod_.mutable_metadata()->set_uid(std::move(uid));
    return *this;
  }
  PodBuilder& Label(std::string key, std::string value) {
    (*pod_.mutable_metadata()->mutable_labels())[std::move(key)] = std::move(value);
    return *this;
  }
  PodBuilder& Node(std::string node_name) {
    pod_.mutable_spec()->set_node_name(std::move(node_name));
    return *this;
  }
  PodBuilder& SchedulerName(std::string name) {
    pod_.mutable_spec()->set_scheduler_name(std::move(name));
    return *this;
  }
  PodBuilder& Priority(int32_t priority) {
    pod_.mutable_spec()->set_priority(priority);
    return *this;
  }
  PodBuilder& CreationSeconds(int64_t seconds) {
    pod_.mutable_metadata()->mutable_creation_timestamp()->set_seconds(seconds);
    return *this;
  }

  // A container with these requests (and limits); each call adds one.
  PodBuilder& Req(const ResourceList& requests, const ResourceList& limits = {}) {
    api::v1::Container* c = AddContainer(pod_.mutable_spec()->mutable_containers());
    FillResources(requests, c->mutable_resources()->mutable_requests());
    FillResources(limits, c->mutable_resources()->mutable_limits());
    return *this;
  }
  // A plain init container with these requests.
  PodBuilder& InitReq(const ResourceList& requests) {
    api::v1::Container* c = AddContainer(pod_.mutable_spec()->mutable_init_containers());
    FillResources(requests, c->mutable_resources()->mutable_requests());
    return *this;
  }
  // A sidecar: an init container with restartPolicy Always.
  PodBuilder& SidecarReq(const ResourceList& requests) {
    api::v1::Container* c = AddContainer(pod_.mutable_spec()->mutable_init_containers());
    c->set_restart_policy("Always");
    FillResources(requests, c->mutable_resources()->mutable_requests());
    return *this;
  }
  PodBuilder& Overhead(const ResourceList& overhead) {
    FillResources(overhead, pod_.mutable_spec()->mutable_overhead());
    return *this;
  }
  // A container running `image`; each call adds one.
  PodBuilder& Image(std::string image) {
    AddContainer(pod_.mutable_spec()->mutable_containers())->set_image(std::move(image));
    return *this;
  }
  // A host port on the first container (created if there is none). Empty protocol and ip
  // stay empty, as an undefaulted manifest would have them.
  PodBuilder& HostPort(int32_t port, std::string protocol = "TCP", std::string ip = "") {
    auto* containers = pod_.mutable_spec()->mutable_containers();
    api::v1::Container* c = containers->empty() ? AddContainer(containers) : &(*containers)[0];
    api::v1::ContainerPort* p = c->add_ports();
    p->set_host_port(port);
    p->set_container_port(port);
    p->set_protocol(std::move(protocol));
    p->set_host_ip(std::move(ip));
    return *this;
  }
  PodBuilder& NodeSelector(std::string key, std::string value) {
    (*pod_.mutable_spec()->mutable_node_selector())[std::move(key)] = std::move(value);
    return *this;
  }
  PodBuilder& Toleration(std::string key, std::string op, std::string value,
                         std::string effect) {
    api::v1::Toleration* t = pod_.mutable_spec()->add_tolerations();
    t->set_key(std::move(key));
    t->set_operator_(std::move(op));
    t->set_value(std::move(value));
    t->set_effect(std::move(effect));
    return *this;
  }
  // Merges a PodSpec written in YAML (affinity, topologySpreadConstraints, ...): repeated
  // fields append, scalars and maps overwrite.
  PodBuilder& SpecYaml(std::string_view yaml) {
    pod_.mutable_spec()->MergeFrom(FromYaml<api::v1::PodSpec>(yaml));
    return *this;
  }

  api::v1::Pod Obj() const {
    api::v1::Pod pod = pod_;
    if (pod.metadata().uid().empty()) {
      pod.mutable_metadata()->set_uid(pod.metadata().namespace_() + "/" +
                                      pod.metadata().name());
    }
    return pod;
  }
  std::shared_ptr<const api::v1::Pod> Ptr() const {
    return std::make_shared<const api::v1::Pod>(Obj());
  }
  PodInfoPtr Info() const {
    absl::StatusOr<PodInfoPtr> info = PodInfo::Create(Ptr());
    if (!info.ok()) {
      ADD_FAILURE() << info.status();
      return *PodInfo::Create(std::make_shared<const api::v1::Pod>());
    }
    return *std::move(info);
  }

 private:
  api::v1::Container* AddContainer(
      google::protobuf::RepeatedPtrField<api::v1::Container>* containers) {
    api::v1::Container* c = containers->Add();
    c->set_name("c" + std::to_string(containers->size() - 1));
    return c;
  }

  api::v1::Pod pod_;
};

inline PodBuilder MakePod(std::string name) { return PodBuilder(std::move(name)); }

class NodeBuilder {
 public:
  explicit NodeBuilder(std::string name) { node_.mutable_metadata()->set_name(std::move(name)); }

  PodBuilder MakePodOn(std::string pod_name) const {
    return PodBuilder(std::move(pod_name)).Node(node_.metadata().name());
  }

  NodeBuilder& Label(std::string key, std::string value) {
    (*node_.mutable_metadata()->mutable_labels())[std::move(key)] = std::move(value);
    return *this;
  }
  // Sets both capacity and allocatable.
  NodeBuilder& Capacity(const ResourceList& capacity) {
    FillResources(capacity, node_.mutable_status()->mutable_capacity());
    FillResources(capacity, node_.mutable_status()->mutable_allocatable());
    return *this;
  }
  NodeBuilder& Allocatable(const ResourceList& allocatable) {
    FillResources(allocatable, node_.mutable_status()->mutable_allocatable());
    return *this;
  }
  NodeBuilder& Taint(std::string key, std::string value, std::string effect) {
    api::v1::Taint* t = node_.mutable_spec()->add_taints();
    t->set_key(std::move(key));
    t->set_value(std::move(value));
    t->set_effect(std::move(effect));
    return *this;
  }
  NodeBuilder& Unschedulable(bool unschedulable = true) {
    node_.mutable_spec()->set_unschedulable(unschedulable);
    return *this;
  }
  NodeBuilder& Image(std::vector<std::string> names, int64_t size_bytes) {
    api::v1::ContainerImage* image = node_.mutable_status()->add_images();
    for (std::string& name : names) image->add_names(std::move(name));
    image->set_size_bytes(size_bytes);
    return *this;
  }
  NodeBuilder& SpecYaml(std::string_view yaml) {
    node_.mutable_spec()->MergeFrom(FromYaml<api::v1::NodeSpec>(yaml));
    return *this;
  }

  const api::v1::Node& Obj() const { return node_; }
  std::shared_ptr<const api::v1::Node> Ptr() const {
    return std::make_shared<const api::v1::Node>(node_);
  }
  // A NodeInfo of this node holding `pods`.
  NodeInfo Info(const std::vector<PodInfoPtr>& pods = {}) const {
    absl::StatusOr<NodeInfo> info = NodeInfo::Create(Ptr());
    if (!info.ok()) {
      ADD_FAILURE() << info.status();
      return NodeInfo();
    }
    for (const PodInfoPtr& pod : pods) info->AddPod(pod);
    return *std::move(info);
  }

 private:
  api::v1::Node node_;
};

inline NodeBuilder MakeNode(std::string name) { return NodeBuilder(std::move(name)); }

// NodeInfos of `nodes`, each holding the pods whose spec.nodeName names it.
inline std::vector<NodeInfo> BuildCluster(const std::vector<NodeBuilder>& nodes,
                                          const std::vector<PodInfoPtr>& pods) {
  std::vector<NodeInfo> infos;
  for (const NodeBuilder& node : nodes) {
    std::vector<PodInfoPtr> on_node;
    for (const PodInfoPtr& pod : pods) {
      if (pod->pod().spec().node_name() == node.Obj().metadata().name()) on_node.push_back(pod);
    }
    infos.push_back(node.Info(on_node));
  }
  return infos;
}

// The same, from pod builders.
inline std::vector<NodeInfo> BuildCluster(const std::vector<NodeBuilder>& nodes,
                                          const std::vector<PodBuilder>& pods) {
  std::vector<PodInfoPtr> infos;
  for (const PodBuilder& pod : pods) infos.push_back(pod.Info());
  return BuildCluster(nodes, infos);
}

}  // namespace orch::scheduler::testing

#endif  // ORCH_TESTS_SCHEDULER_TEST_OBJECTS_H_

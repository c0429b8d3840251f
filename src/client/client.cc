#include "orch/client/client.h"

#include <algorithm>
#include <memory>
#include <utility>

#include "orch/api/encoding.h"
#include "orch/api/time.h"
#include "client/binding.h"
#include "client/object.h"
#include "fmt/format.h"
#include "fmt/ranges.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/util/message_differencer.h"
#include "orch/api/v1/core.pb.h"
#include "orch/api/v1/scheduling.pb.h"
#include "orch/api/validation.h"
#include "orch/store/keys.h"

namespace orch::client {

namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using internal::Meta;
using internal::MutableMeta;

// Attempts of a server-side read-modify-write that lost a race with another writer
// before giving up with kAborted. Only unconditional writes retry; a write with an
// expected resourceVersion fails on the first conflict.
constexpr int kMaxServerAttempts = 100;
// Attempts to find a free name for generateName.
constexpr int kMaxGenerateNameAttempts = 8;
// Kubernetes' name generator: 5 characters from an alphabet without vowels (no words)
// and without easily confused characters, after at most 58 of generateName.
constexpr std::string_view kNameAlphabet = "bcdfghjklmnpqrstvwxz2456789";
constexpr size_t kNameSuffixLength = 5;
constexpr size_t kMaxGenerateNameBase = 63 - kNameSuffixLength;
// A pod's grace period when neither the delete nor the pod says (Kubernetes' default).
constexpr int64_t kDefaultTerminationGracePeriodSeconds = 30;

bool IsKind(const api::Kind& kind, std::string_view group, std::string_view name) {
  return kind.group == group && kind.kind == name;
}

bool Contains(const google::protobuf::RepeatedPtrField<std::string>& list, std::string_view v) {
  return std::find(list.begin(), list.end(), v) != list.end();
}

void RemoveValue(google::protobuf::RepeatedPtrField<std::string>* list, std::string_view v) {
  list->erase(std::remove(list->begin(), list->end(), v), list->end());
}

void CopyStatus(const Message& from, Message* to) {
  const FieldDescriptor* status = internal::StatusField(*to->GetDescriptor());
  if (status == nullptr) return;
  const auto* reflection = to->GetReflection();
  if (from.GetReflection()->HasField(from, status)) {
    internal::CopyObject(from.GetReflection()->GetMessage(from, status),
                         reflection->MutableMessage(to, status));
  } else {
    reflection->ClearField(to, status);
  }
}

// True when anything but apiVersion, kind, metadata and status differs: what bumps
// metadata.generation.
bool SpecChanged(const Message& before, const Message& after) {
  const Descriptor& type = *before.GetDescriptor();
  const FieldDescriptor* status = internal::StatusField(type);
  const auto ignored = [&](const FieldDescriptor* f) { return f->number() <= 3 || f == status; };
  // Most kinds keep the rest in singular messages (spec): compared by their encodings,
  // which is much cheaper than reflection.
  bool all_messages = true;
  for (int i = 0; i < type.field_count() && all_messages; ++i) {
    const FieldDescriptor* f = type.field(i);
    all_messages = ignored(f) || (f->message_type() != nullptr && !f->is_repeated());
  }
  if (all_messages) {
    const auto* before_reflection = before.GetReflection();
    const auto* after_reflection = after.GetReflection();
    for (int i = 0; i < type.field_count(); ++i) {
      const FieldDescriptor* f = type.field(i);
      if (ignored(f)) continue;
      if (before_reflection->HasField(before, f) != after_reflection->HasField(after, f)) return true;
      if (!api::SameMessage(before_reflection->GetMessage(before, f),
                            after_reflection->GetMessage(after, f))) {
        return true;
      }
    }
    return false;
  }
  google::protobuf::util::MessageDifferencer differencer;
  for (int i = 0; i < type.field_count(); ++i) {
    if (ignored(type.field(i))) differencer.IgnoreField(type.field(i));
  }
  return !differencer.Compare(before, after);
}

absl::Status CheckTypeFields(const api::Kind& kind, const Message& object) {
  const std::string api_version = internal::ApiVersionField(object);
  if (!api_version.empty() && api_version != kind.api_version()) {
    return absl::InvalidArgumentError(
        fmt::format("apiVersion: Invalid value: \"{}\": must be \"{}\" for kind {}", api_version,
                    kind.api_version(), kind.kind));
  }
  const std::string kind_name = internal::KindField(object);
  if (!kind_name.empty() && kind_name != kind.kind) {
    return absl::InvalidArgumentError(fmt::format(
        "kind: Invalid value: \"{}\": must be \"{}\" for this message type", kind_name, kind.kind));
  }
  return absl::OkStatus();
}

absl::Status Validate(const api::Kind& kind, const Message& object) {
  if (!kind.validator) return absl::OkStatus();
  return kind.validator(object);
}

// Kubernetes' pod strategy for graceful deletion: the seconds a pod gets to stop.
int64_t PodGracePeriod(const api::v1::Pod& pod, const DeleteOptions& options) {
  int64_t period = kDefaultTerminationGracePeriodSeconds;
  if (options.grace_period_seconds.has_value()) {
    period = *options.grace_period_seconds;
  } else if (pod.spec().has_termination_grace_period_seconds()) {
    period = pod.spec().termination_grace_period_seconds();
  }
  if (pod.spec().node_name().empty()) period = 0;  // never ran anywhere
  const std::string& phase = pod.status().phase();
  if (phase == "Succeeded" || phase == "Failed") period = 0;  // nothing left to stop
  if (period < 0) period = 1;
  return period;
}

// The grace period of a delete of `object`: 0 for every kind but Pod.
int64_t GracePeriod(const Message& object, const DeleteOptions& options) {
  const auto* pod = google::protobuf::DynamicCastToGenerated<api::v1::Pod>(&object);
  return pod == nullptr ? 0 : PodGracePeriod(*pod, options);
}

// Applies a propagation policy to the finalizers, as Kubernetes' garbage collection
// options do. Returns true if they changed.
bool ApplyPropagationPolicy(std::optional<PropagationPolicy> policy, api::v1::ObjectMeta* meta) {
  if (!policy.has_value()) return false;
  const auto before = meta->finalizers();
  auto* finalizers = meta->mutable_finalizers();
  auto ensure = [finalizers](std::string_view f) {
    if (!Contains(*finalizers, f)) finalizers->Add(std::string(f));
  };
  switch (*policy) {
    case PropagationPolicy::kBackground:
      RemoveValue(finalizers, kForegroundDeletionFinalizer);
      RemoveValue(finalizers, kOrphanFinalizer);
      break;
    case PropagationPolicy::kForeground:
      RemoveValue(finalizers, kOrphanFinalizer);
      ensure(kForegroundDeletionFinalizer);
      break;
    case PropagationPolicy::kOrphan:
      RemoveValue(finalizers, kForegroundDeletionFinalizer);
      ensure(kOrphanFinalizer);
      break;
  }
  return before.size() != finalizers->size() ||
         !std::equal(before.begin(), before.end(), finalizers->begin());
}

absl::Status CheckPreconditions(const Preconditions& pre, const api::v1::ObjectMeta& meta) {
  if (pre.uid.has_value() && *pre.uid != meta.uid()) {
    return absl::FailedPreconditionError(
        fmt::format("Precondition failed: UID in precondition: {}, UID in object meta: {}",
                    *pre.uid, meta.uid()));
  }
  if (pre.resource_version.has_value() && *pre.resource_version != meta.resource_version()) {
    return absl::AbortedError(fmt::format(
        "Precondition failed: ResourceVersion in precondition: {}, ResourceVersion in object "
        "meta: {}",
        *pre.resource_version, meta.resource_version()));
  }
  return absl::OkStatus();
}

}  // namespace

struct Client::Target {
  const api::Kind* kind = nullptr;
  std::string ns;
  std::string name;
  std::string key;
};

struct Client::DeletePlan {
  enum class Action { kNothing, kDelete, kUpdate };
  Action action = Action::kNothing;
  std::unique_ptr<Message> next;  // kUpdate: the object to write
};

Client::Client(store::Store* store, const api::Scheme* scheme, Clock* clock, uint64_t seed)
    : store_(store),
      scheme_(scheme),
      clock_(clock),
      strings_(std::make_unique<internal::StringCheck>(*scheme)),
      rng_(seed),
      service_ips_(ParseIPv4Cidr(ServiceRanges().cluster_ip_range, "").value()) {}

Client::~Client() = default;

absl::StatusOr<const api::Kind*> Client::KindOf(const Descriptor& type) const {
  const api::Kind* kind = scheme_->FindByMessage(type);
  if (kind == nullptr) {
    return absl::InvalidArgumentError(
        fmt::format("{} is not a kind of this client's scheme", type.full_name()));
  }
  if (kind->prototype == nullptr || Meta(*kind->prototype) == nullptr) {
    return absl::InvalidArgumentError(fmt::format(
        "{}: field 3 must be a generated orch.api.v1.ObjectMeta", type.full_name()));
  }
  return kind;
}

absl::StatusOr<Client::Target> Client::Resolve(const Descriptor& type, std::string_view ns,
                                               std::string_view name) const {
  ORCH_ASSIGN_OR_RETURN(const api::Kind* kind, KindOf(type));
  Target target{kind, std::string(ns), std::string(name), {}};
  if (kind->namespaced) {
    if (target.ns.empty()) target.ns = kDefaultNamespace;
    ORCH_RETURN_IF_ERROR(internal::ValidateNamespace("metadata.namespace", target.ns));
  } else if (!target.ns.empty()) {
    return absl::InvalidArgumentError(fmt::format(
        "metadata.namespace: Forbidden: not allowed on cluster-scoped kind {}", kind->kind));
  }
  ORCH_RETURN_IF_ERROR(internal::ValidateName("metadata.name", target.name));
  target.key = store::ObjectKey(kind->plural, target.ns, target.name);
  return target;
}

// ---------------------------------------------------------------- ids

void Client::NewUid(std::string* uid) {
  uint64_t hi, lo;
  {
    MutexLock lock(&rng_mu_);
    hi = rng_();
    lo = rng_();
  }
  hi = (hi & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;  // version 4
  lo = (lo & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;  // RFC 4122 variant
  // Canonical text: 32 hex digits in groups of 8-4-4-4-12, hi's 16 then lo's, the version
  // and variant bits set above; written digit by digit (every Create makes one).
  static constexpr char kHex[] = "0123456789abcdef";
  uid->assign(36, '-');
  size_t at = 0;
  for (int nibble = 15; nibble >= 0; --nibble) {
    if (at == 8 || at == 13) ++at;
    (*uid)[at++] = kHex[(hi >> (4 * nibble)) & 0xf];
  }
  for (int nibble = 15; nibble >= 0; --nibble) {
    if (at == 18 || at == 23) ++at;
    (*uid)[at++] = kHex[(lo >> (4 * nibble)) & 0xf];
  }
}

std::string Client::NewNameSuffix() {
  std::string suffix(kNameSuffixLength, ' ');
  MutexLock lock(&rng_mu_);
  for (char& c : suffix) c = kNameAlphabet[rng_() % kNameAlphabet.size()];
  return suffix;
}

// ---------------------------------------------------------------- reads

absl::Status Client::GetObject(std::string_view ns, std::string_view name, Message* out) {
  ORCH_ASSIGN_OR_RETURN(Target target, Resolve(*out->GetDescriptor(), ns, name));
  absl::StatusOr<store::KeyValue> kv = store_->Get(target.key);
  if (!kv.ok()) {
    if (kv.status().code() == absl::StatusCode::kNotFound) {
      return internal::NotFoundError(*target.kind, target.name);
    }
    return kv.status();
  }
  return internal::Decode(*kv, kv->mod_revision, out);
}

absl::StatusOr<ListMeta> Client::ListObjects(const Message& prototype, std::string_view ns,
                                             const ListOptions& options,
                                             absl::FunctionRef<Message*()> append) {
  const Descriptor& type = *prototype.GetDescriptor();
  ORCH_ASSIGN_OR_RETURN(const api::Kind* kind, KindOf(type));
  if (!kind->namespaced && !ns.empty()) {
    return absl::InvalidArgumentError(fmt::format(
        "metadata.namespace: Forbidden: not allowed on cluster-scoped kind {}", kind->kind));
  }
  if (!ns.empty()) ORCH_RETURN_IF_ERROR(internal::ValidateNamespace("metadata.namespace", ns));
  if (options.limit < 0) {
    return absl::InvalidArgumentError("limit: Invalid value: must be 0 or more");
  }
  ORCH_RETURN_IF_ERROR(options.field_selector.Validate(type));
  ORCH_ASSIGN_OR_RETURN(std::optional<int64_t> revision,
                        internal::ParseResourceVersion("resourceVersion", options.resource_version));

  store::ListOptions list_options;
  list_options.labels = options.label_selector;
  list_options.fields = options.field_selector;
  list_options.prototype = kind->prototype;
  list_options.limit = options.limit;
  list_options.continue_token = options.continue_token;
  list_options.revision = revision.value_or(0);
  ORCH_ASSIGN_OR_RETURN(store::ListResult result,
                        store_->List(store::ResourcePrefix(kind->plural, ns), list_options));
  for (const store::KeyValue& kv : result.items) {
    ORCH_RETURN_IF_ERROR(internal::Decode(kv, kv.mod_revision, append()));
  }
  return ListMeta{std::to_string(result.revision), std::move(result.continue_token)};
}

// ---------------------------------------------------------------- create

absl::Status Client::PrepareCreate(const api::Kind& kind, Message* object) {
  ORCH_RETURN_IF_ERROR(CheckTypeFields(kind, *object));
  internal::SetTypeFields(kind, object);
  api::v1::ObjectMeta* meta = MutableMeta(object);
  if (!meta->resource_version().empty()) {
    return absl::InvalidArgumentError(
        "metadata.resourceVersion: Forbidden: resourceVersion should not be set on objects to "
        "be created");
  }
  if (kind.namespaced) {
    if (meta->namespace_().empty()) meta->set_namespace_(std::string(kDefaultNamespace));
    ORCH_RETURN_IF_ERROR(internal::ValidateNamespace("metadata.namespace", meta->namespace_()));
  } else if (!meta->namespace_().empty()) {
    return absl::InvalidArgumentError(fmt::format(
        "metadata.namespace: Forbidden: not allowed on cluster-scoped kind {}", kind.kind));
  }
  if (meta->name().empty()) {
    if (meta->generate_name().empty()) {
      return absl::InvalidArgumentError(
          "metadata.name: Required value: name or generateName is required");
    }
    meta->set_name(meta->generate_name().substr(0, kMaxGenerateNameBase) + NewNameSuffix());
  }
  ORCH_RETURN_IF_ERROR(internal::ValidateName("metadata.name", meta->name()));
  NewUid(meta->mutable_uid());
  *meta->mutable_creation_timestamp() = api::MetaTime(clock_->Now());
  meta->set_generation(1);
  meta->clear_deletion_timestamp();
  meta->clear_deletion_grace_period_seconds();

  // Status is the controllers' to write, so a new object starts without one — except a
  // Node, whose agent registers it with its capacity (as in Kubernetes).
  if (const FieldDescriptor* status = internal::StatusField(*object->GetDescriptor());
      status != nullptr && !IsKind(kind, "", "Node")) {
    object->GetReflection()->ClearField(object, status);
  }
  auto* pod = google::protobuf::DynamicCastToGenerated<api::v1::Pod>(object);
  if (pod != nullptr) pod->mutable_status()->set_phase("Pending");
  if (kind.defaulter) kind.defaulter(*object);
  if (pod != nullptr) ORCH_RETURN_IF_ERROR(AdmitPriority(*pod));
  return Validate(kind, *object);
}

// Kubernetes' Priority admission: a pod's priority and preemption policy come from its
// PriorityClass (or the global default one), never from the pod itself.
absl::Status Client::AdmitPriority(api::v1::Pod& pod) {
  if (scheme_->FindByMessage(*api::v1::PriorityClass::descriptor()) == nullptr) return absl::OkStatus();
  const auto forbidden = [&](const std::string& why) {
    return absl::FailedPreconditionError(
        fmt::format("pods \"{}\" is forbidden: {}", pod.metadata().name(), why));
  };
  api::v1::PodSpec& spec = *pod.mutable_spec();
  int32_t priority = 0;
  std::optional<std::string> policy;
  if (spec.priority_class_name().empty()) {
    // The global default class, if there is one (the lowest value if several claim it).
    std::vector<api::v1::PriorityClass> classes;
    ORCH_RETURN_IF_ERROR(ListObjects(api::v1::PriorityClass::default_instance(), "", {}, [&] {
                           return &classes.emplace_back();
                         }).status());
    const api::v1::PriorityClass* chosen = nullptr;
    for (const api::v1::PriorityClass& c : classes) {
      if (c.global_default() && (chosen == nullptr || c.value() < chosen->value())) chosen = &c;
    }
    if (chosen != nullptr) {
      spec.set_priority_class_name(chosen->metadata().name());
      priority = chosen->value();
      if (chosen->has_preemption_policy()) policy = chosen->preemption_policy();
    }
  } else if (spec.priority_class_name() == "system-cluster-critical") {
    priority = 2000000000;
  } else if (spec.priority_class_name() == "system-node-critical") {
    priority = 2000001000;
  } else {
    api::v1::PriorityClass found;
    absl::Status got = GetObject("", spec.priority_class_name(), &found);
    if (absl::IsNotFound(got)) {
      return forbidden(fmt::format("no PriorityClass with name {} was found", spec.priority_class_name()));
    }
    ORCH_RETURN_IF_ERROR(got);
    priority = found.value();
    if (found.has_preemption_policy()) policy = found.preemption_policy();
  }
  if (spec.has_priority() && spec.priority() != priority) {
    return forbidden(fmt::format(
        "the integer value of priority ({}) must not be provided in pod spec; priority admission "
        "controller computed {} from the given PriorityClass name",
        spec.priority(), priority));
  }
  spec.set_priority(priority);
  if (policy.has_value()) {
    if (spec.has_preemption_policy() && spec.preemption_policy() != *policy) {
      return forbidden(fmt::format(
          "the string value of PreemptionPolicy ({}) must not be provided in pod spec; priority "
          "admission controller computed {} from the given PriorityClass name",
          spec.preemption_policy(), *policy));
    }
    spec.set_preemption_policy(*policy);
  }
  return absl::OkStatus();
}

// kAlreadyExists, saying so when the existing object is on its way out (as Kubernetes).
absl::Status Client::ExistingObjectError(const api::Kind& kind, const std::string& key,
                                         std::string_view name) {
  const absl::Status exists = internal::AlreadyExistsError(kind, name);
  absl::StatusOr<store::KeyValue> kv = store_->Get(key);
  if (!kv.ok()) return exists;
  std::unique_ptr<Message> existing(kind.prototype->New());
  if (!internal::Decode(*kv, kv->mod_revision, existing.get()).ok() ||
      !Meta(*existing)->has_deletion_timestamp()) {
    return exists;
  }
  return absl::AlreadyExistsError(
      fmt::format("object is being deleted: {}", std::string(exists.message())));
}

void Client::ShareDecoded(Write write, const store::SharedBytes& bytes, int64_t revision,
                          std::unique_ptr<Message> object) {
  if (api::v1::ObjectMeta* meta = MutableMeta(object.get())) {
    meta->set_resource_version(std::to_string(revision));
  }
  bytes.AttachDecoded(std::move(object));
  const size_t limit = write == Write::kCreate ? kMaxWaitingCreated : kMaxWaitingUpdated;
  MutexLock lock(&shared_mu_);
  std::deque<store::SharedBytes>& waiting = waiting_[static_cast<int>(write)];
  while (!waiting.empty() && !waiting.front().HoldsDecoded()) waiting.pop_front();
  if (waiting.size() >= limit) {
    waiting.front().TakeDecoded();  // its reader decodes instead
    waiting.pop_front();
  }
  waiting.push_back(bytes);
}

absl::Status Client::CreateObject(Message* object, Share share) {
  ORCH_ASSIGN_OR_RETURN(const api::Kind* kind, KindOf(*object->GetDescriptor()));
  const bool generate = Meta(*object)->name().empty();
  // A generated name that is taken is drawn again, from the caller's object: defaulting
  // may derive fields from the name.
  std::unique_ptr<Message> original;
  if (generate) {
    original.reset(object->New());
    internal::CopyObject(*object, original.get());
  }
  for (int attempt = 1;; ++attempt) {
    if (attempt > 1) internal::CopyObject(*original, object);
    ORCH_RETURN_IF_ERROR(PrepareCreate(*kind, object));
    std::vector<std::string> reserved;
    if (auto* service = google::protobuf::DynamicCastToGenerated<api::v1::Service>(object)) {
      ORCH_ASSIGN_OR_RETURN(reserved, AllocateServiceAddresses(*service, nullptr));
    }
    api::v1::ObjectMeta* meta = MutableMeta(object);
    const std::string key = store::ObjectKey(kind->plural, meta->namespace_(), meta->name());
    absl::StatusOr<store::SharedBytes> encoded = internal::Encode(*strings_, object);
    if (!encoded.ok()) {
      ReleaseReservations(reserved);
      return encoded.status();
    }
    const store::SharedBytes bytes = *std::move(encoded);
    absl::StatusOr<int64_t> revision = store_->Create(key, bytes);
    if (!revision.ok()) ReleaseReservations(reserved);
    if (revision.ok()) {
      meta->set_resource_version(std::to_string(*revision));
      if (share == Share::kDecoded) {
        std::unique_ptr<Message> copy(object->New());
        internal::CopyObject(*object, copy.get());
        ShareDecoded(Write::kCreate, bytes, *revision, std::move(copy));
      }
      return absl::OkStatus();
    }
    if (revision.status().code() != absl::StatusCode::kAlreadyExists) return revision.status();
    if (!generate || attempt == kMaxGenerateNameAttempts) {
      return ExistingObjectError(*kind, key, meta->name());
    }
  }
}

// ---------------------------------------------------------------- update

absl::Status Client::PrepareUpdate(const api::Kind& kind, const Message& current,
                                   UpdateMode mode, Message* next) const {
  ORCH_RETURN_IF_ERROR(CheckTypeFields(kind, *next));
  internal::SetTypeFields(kind, next);
  const api::v1::ObjectMeta& old_meta = *Meta(current);
  api::v1::ObjectMeta* meta = MutableMeta(next);
  if (meta->uid().empty()) {
    meta->set_uid(old_meta.uid());
  } else if (meta->uid() != old_meta.uid()) {
    return absl::InvalidArgumentError(
        fmt::format("metadata.uid: Invalid value: \"{}\": field is immutable", meta->uid()));
  }
  // Set by the server only: taken from the stored object whatever the caller sent.
  meta->set_namespace_(old_meta.namespace_());
  meta->set_resource_version(old_meta.resource_version());
  meta->set_generation(old_meta.generation());
  *meta->mutable_creation_timestamp() = old_meta.creation_timestamp();
  if (old_meta.has_deletion_timestamp()) {
    *meta->mutable_deletion_timestamp() = old_meta.deletion_timestamp();
  } else {
    meta->clear_deletion_timestamp();
  }
  if (old_meta.has_deletion_grace_period_seconds()) {
    meta->set_deletion_grace_period_seconds(old_meta.deletion_grace_period_seconds());
  } else {
    meta->clear_deletion_grace_period_seconds();
  }

  if (mode == UpdateMode::kMain) {
    CopyStatus(current, next);
    if (old_meta.has_deletion_timestamp()) {
      std::vector<std::string> added;
      for (const std::string& f : meta->finalizers()) {
        if (!Contains(old_meta.finalizers(), f)) added.push_back(fmt::format("\"{}\"", f));
      }
      if (!added.empty()) {
        return absl::InvalidArgumentError(fmt::format(
            "metadata.finalizers: Forbidden: no new finalizers can be added if the object is "
            "being deleted, found new finalizers [{}]",
            fmt::join(added, ", ")));
      }
    }
  }
  if (kind.defaulter) kind.defaulter(*next);
  if (SpecChanged(current, *next)) meta->set_generation(old_meta.generation() + 1);
  return Validate(kind, *next);
}

absl::Status Client::UpdateObject(Message* object) {
  return UpdateImpl(object, UpdateMode::kMain);
}

absl::Status Client::UpdateObjectStatus(Message* object) {
  return UpdateImpl(object, UpdateMode::kStatus);
}

absl::StatusOr<std::string> Client::Bind(const api::v1::Pod& pod, std::string_view node_name) {
  ORCH_ASSIGN_OR_RETURN(const api::Kind* kind, KindOf(*api::v1::Pod::descriptor()));
  ORCH_ASSIGN_OR_RETURN(Target target, Resolve(*api::v1::Pod::descriptor(),
                                               pod.metadata().namespace_(), pod.metadata().name()));
  if (std::vector<std::string> problems = api::IsDNS1123Subdomain(node_name); !problems.empty()) {
    return absl::InvalidArgumentError(fmt::format("target.name: Invalid value: \"{}\": {}",
                                                  node_name, fmt::join(problems, "; ")));
  }
  ORCH_ASSIGN_OR_RETURN(std::optional<int64_t> expected,
                        internal::ParseResourceVersion("metadata.resourceVersion",
                                                       pod.metadata().resource_version()));
  // Only the pod's identity comes from the caller: what is bound is the pod as stored.
  absl::StatusOr<store::KeyValue> stored = store_->Get(target.key);
  if (!stored.ok()) {
    if (absl::IsNotFound(stored.status())) return internal::NotFoundError(*kind, target.name);
    return stored.status();
  }
  if (expected.has_value() && *expected != stored->mod_revision) {
    return internal::ConflictError(*kind, target.name);
  }
  const int64_t now = absl::ToUnixSeconds(clock_->Now());
  internal::SplicedBinding spliced;
  ORCH_ASSIGN_OR_RETURN(const bool in_order,
                        internal::SpliceBinding(stored->value.str(), node_name, now, &spliced));
  // Stored bytes not in a serializer's order are decoded, bound and encoded instead.
  api::v1::Pod decoded;
  if (!in_order) ORCH_RETURN_IF_ERROR(internal::Decode(*stored, stored->mod_revision, &decoded));
  const auto check_uid = [&]() -> absl::Status {
    if (pod.metadata().uid().empty()) return absl::OkStatus();
    std::string_view uid = decoded.metadata().uid();
    if (in_order) {
      ORCH_ASSIGN_OR_RETURN(uid, spliced.StoredUid());
    }
    if (pod.metadata().uid() == uid) return absl::OkStatus();
    return absl::AbortedError(fmt::format(
        "Operation cannot be fulfilled on pods/binding \"{}\": Precondition failed: UID in "
        "precondition: {}, UID in object meta: {}",
        target.name, pod.metadata().uid(), uid));
  };
  const std::string_view assigned = in_order ? spliced.assigned_node() : decoded.spec().node_name();
  if (!assigned.empty()) {
    ORCH_RETURN_IF_ERROR(check_uid());
    return absl::FailedPreconditionError(
        fmt::format("pod {} is already assigned to node \"{}\"", target.name, assigned));
  }
  // The bound pod goes to this process's pod informers in place of a decode. The caller's
  // copy, bound, is that pod when the caller's pod is the stored bytes' decoded form itself
  // (the object an informer took from them, as a scheduler passes it), or when it encodes
  // to exactly the spliced bytes (it is the stored pod, unchanged; equal bytes mean equal
  // uids too): the spliced bytes, or that encoding, are then what is written.
  std::unique_ptr<api::v1::Pod> shared;
  store::SharedBytes bytes;
  if (in_order) {
    shared = std::make_unique<api::v1::Pod>(pod);
    shared->mutable_metadata()->clear_resource_version();
    internal::ApplyBinding(node_name, now, shared.get());
    if (stored->value.IsTakenAs(pod)) {
      bytes = spliced.Bytes();
    } else if (std::string copy_bytes = api::DeterministicBytes(*shared);
               spliced.Equals(copy_bytes)) {
      bytes = std::move(copy_bytes);
    } else {
      shared.reset();
      ORCH_RETURN_IF_ERROR(check_uid());
      bytes = spliced.Bytes();
    }
  } else {
    ORCH_RETURN_IF_ERROR(check_uid());
    internal::ApplyBinding(node_name, now, &decoded);
    ORCH_ASSIGN_OR_RETURN(bytes, internal::Encode(*strings_, &decoded));
    shared = std::make_unique<api::v1::Pod>(std::move(decoded));
  }
  absl::StatusOr<int64_t> written = store_->Update(target.key, bytes, stored->mod_revision);
  if (!written.ok()) {
    if (absl::IsNotFound(written.status())) return internal::NotFoundError(*kind, target.name);
    if (absl::IsAborted(written.status())) return internal::ConflictError(*kind, target.name);
    return written.status();
  }
  if (shared != nullptr) ShareDecoded(Write::kUpdate, bytes, *written, std::move(shared));
  return std::to_string(*written);
}

absl::Status Client::UpdateImpl(Message* object, UpdateMode mode) {
  const Descriptor& type = *object->GetDescriptor();
  ORCH_ASSIGN_OR_RETURN(const api::Kind* kind, KindOf(type));
  if (mode == UpdateMode::kStatus && internal::StatusField(type) == nullptr) {
    return absl::InvalidArgumentError(fmt::format("{} have no status", kind->plural));
  }
  const api::v1::ObjectMeta& in_meta = *Meta(*object);
  ORCH_ASSIGN_OR_RETURN(Target target, Resolve(type, in_meta.namespace_(), in_meta.name()));
  ORCH_ASSIGN_OR_RETURN(
      std::optional<int64_t> expected,
      internal::ParseResourceVersion("metadata.resourceVersion", in_meta.resource_version()));

  std::unique_ptr<Message> current(object->New());
  std::unique_ptr<Message> next(object->New());
  for (int attempt = 0; attempt < kMaxServerAttempts; ++attempt) {
    absl::StatusOr<store::KeyValue> kv = store_->Get(target.key);
    if (!kv.ok()) {
      if (kv.status().code() == absl::StatusCode::kNotFound) {
        return internal::NotFoundError(*kind, target.name);
      }
      return kv.status();
    }
    if (expected.has_value() && *expected != kv->mod_revision) {
      return internal::ConflictError(*kind, target.name);
    }
    ORCH_RETURN_IF_ERROR(internal::Decode(*kv, kv->mod_revision, current.get()));
    if (mode == UpdateMode::kMain) {
      internal::CopyObject(*object, next.get());
    } else {
      internal::CopyObject(*current, next.get());
      CopyStatus(*object, next.get());
    }
    ORCH_RETURN_IF_ERROR(PrepareUpdate(*kind, *current, mode, next.get()));
    std::vector<std::string> reserved;
    if (auto* service = google::protobuf::DynamicCastToGenerated<api::v1::Service>(next.get());
        service != nullptr && mode == UpdateMode::kMain) {
      ORCH_ASSIGN_OR_RETURN(
          reserved, AllocateServiceAddresses(
                        *service, google::protobuf::DynamicCastToGenerated<api::v1::Service>(
                                      current.get())));
    }
    // The encoding is what gets written: the same bytes as stored mean nothing changed (no
    // write, no event). Encodings are deterministic, so equal objects give equal bytes.
    absl::StatusOr<store::SharedBytes> encoded = internal::Encode(*strings_, next.get());
    if (!encoded.ok()) {
      ReleaseReservations(reserved);
      return encoded.status();
    }
    const store::SharedBytes bytes = *std::move(encoded);
    if (bytes == kv->value) {
      internal::CopyObject(*current, object);
      return absl::OkStatus();
    }

    // Removing the last finalizer of an object deleted without grace completes the delete.
    const api::v1::ObjectMeta& old_meta = *Meta(*current);
    const bool finish_delete = Meta(*next)->finalizers().empty() &&
                               old_meta.has_deletion_timestamp() &&
                               old_meta.has_deletion_grace_period_seconds() &&
                               old_meta.deletion_grace_period_seconds() == 0;
    absl::StatusOr<int64_t> written;
    if (finish_delete) {
      absl::StatusOr<store::KeyValue> gone = store_->Delete(target.key, kv->mod_revision);
      written = gone.ok() ? absl::StatusOr<int64_t>(gone->mod_revision) : gone.status();
    } else {
      written = store_->Update(target.key, bytes, kv->mod_revision);
    }
    if (written.ok()) {
      ReleaseServiceAddresses(*current, finish_delete ? nullptr : next.get());
      MutableMeta(next.get())->set_resource_version(std::to_string(*written));
      internal::CopyObject(*next, object);
      if (!finish_delete) ShareDecoded(Write::kUpdate, bytes, *written, std::move(next));
      return absl::OkStatus();
    }
    ReleaseReservations(reserved);
    // Lost a race: re-read; a conditional update then reports the conflict.
    if (written.status().code() != absl::StatusCode::kAborted &&
        written.status().code() != absl::StatusCode::kNotFound) {
      return written.status();
    }
  }
  return internal::ConflictError(*kind, target.name);
}

// ---------------------------------------------------------------- delete

Client::DeletePlan Client::PlanDelete(const api::Kind& kind, const Message& current,
                                      const DeleteOptions& options) const {
  DeletePlan plan;
  plan.next.reset(current.New());
  internal::CopyObject(current, plan.next.get());
  api::v1::ObjectMeta* meta = MutableMeta(plan.next.get());
  const int64_t grace = GracePeriod(current, options);
  const absl::Time now = clock_->Now();

  if (meta->has_deletion_timestamp()) {
    // Already being deleted. A graceful deletion may only be shortened; finalizers may be
    // changed by a propagation policy unless a grace period is still running.
    const bool grace_pending =
        meta->has_deletion_grace_period_seconds() && meta->deletion_grace_period_seconds() > 0;
    bool changed = false;
    if (!meta->has_deletion_grace_period_seconds() || grace < meta->deletion_grace_period_seconds()) {
      *meta->mutable_deletion_timestamp() = api::MetaTime(now + absl::Seconds(grace));
      meta->set_deletion_grace_period_seconds(grace);
      changed = true;
    }
    if (!grace_pending) changed |= ApplyPropagationPolicy(options.propagation_policy, meta);
    if (meta->finalizers().empty() && meta->deletion_grace_period_seconds() == 0) {
      plan.action = DeletePlan::Action::kDelete;
    } else if (changed) {
      plan.action = DeletePlan::Action::kUpdate;
    }
    return plan;
  }

  ApplyPropagationPolicy(options.propagation_policy, meta);
  if (grace == 0 && meta->finalizers().empty()) {
    plan.action = DeletePlan::Action::kDelete;
    return plan;
  }
  // Graceful (a running pod) or held by finalizers: mark it and keep it.
  *meta->mutable_deletion_timestamp() = api::MetaTime(now + absl::Seconds(grace));
  meta->set_deletion_grace_period_seconds(grace);
  if (meta->generation() > 0) meta->set_generation(meta->generation() + 1);
  plan.action = DeletePlan::Action::kUpdate;
  return plan;
}

absl::Status Client::DeleteObject(const Descriptor& type, std::string_view ns,
                                  std::string_view name, const DeleteOptions& options) {
  ORCH_ASSIGN_OR_RETURN(Target target, Resolve(type, ns, name));
  const api::Kind& kind = *target.kind;
  std::unique_ptr<Message> current(kind.prototype->New());
  for (int attempt = 0; attempt < kMaxServerAttempts; ++attempt) {
    absl::StatusOr<store::KeyValue> kv = store_->Get(target.key);
    if (!kv.ok()) {
      if (kv.status().code() == absl::StatusCode::kNotFound) {
        return internal::NotFoundError(kind, target.name);
      }
      return kv.status();
    }
    ORCH_RETURN_IF_ERROR(internal::Decode(*kv, kv->mod_revision, current.get()));
    ORCH_RETURN_IF_ERROR(CheckPreconditions(options.preconditions, *Meta(*current)));
    DeletePlan plan = PlanDelete(kind, *current, options);
    absl::Status written;
    switch (plan.action) {
      case DeletePlan::Action::kNothing:
        return absl::OkStatus();
      case DeletePlan::Action::kDelete:
        written = store_->Delete(target.key, kv->mod_revision).status();
        break;
      case DeletePlan::Action::kUpdate: {
        ORCH_ASSIGN_OR_RETURN(const store::SharedBytes bytes,
                              internal::Encode(*strings_, plan.next.get()));
        absl::StatusOr<int64_t> revision = store_->Update(target.key, bytes, kv->mod_revision);
        if (revision.ok()) {
          ShareDecoded(Write::kUpdate, bytes, *revision, std::move(plan.next));
        }
        written = revision.status();
        break;
      }
    }
    if (written.ok()) {
      if (plan.action == DeletePlan::Action::kDelete) ReleaseServiceAddresses(*current, nullptr);
      return absl::OkStatus();
    }
    // Lost a race: re-read (a precondition then fails, or the plan is redone).
    if (written.code() != absl::StatusCode::kAborted &&
        written.code() != absl::StatusCode::kNotFound) {
      return written;
    }
  }
  return internal::ConflictError(kind, target.name);
}

}  // namespace orch::client

#include "orch/client/events.h"

#include <initializer_list>
#include <iterator>
#include <memory>
#include <numeric>
#include <utility>

#include "absl/strings/str_cat.h"
#include "orch/api/time.h"
#include "orch/base/status.h"
#include "api/utf8.h"
#include "client/object.h"
#include "fmt/format.h"
#include "orch/api/v1/core.pb.h"

namespace orch::client {
namespace {

constexpr size_t kMaxRemembered = 4096;
constexpr absl::Duration kAggregationWindow = absl::Minutes(10);

// Empties `event` for the next one but keeps the submessages the recorder writes every
// time. Event::Clear alone would free them (a proto3 message field has no has-bit to clear
// in its place) and the next Event would allocate them and their strings afresh; a field
// added to Event later is still cleared by it.
void ClearKeepingBuffers(api::v1::Event& event) {
  std::unique_ptr<api::v1::ObjectMeta> metadata(event.release_metadata());
  std::unique_ptr<api::v1::ObjectReference> involved(event.release_involved_object());
  std::unique_ptr<api::v1::EventSource> source(event.release_source());
  std::unique_ptr<google::protobuf::Timestamp> first(event.release_first_timestamp());
  std::unique_ptr<google::protobuf::Timestamp> last(event.release_last_timestamp());
  std::unique_ptr<google::protobuf::Timestamp> time(event.release_event_time());
  event.Clear();
  for (google::protobuf::Message* kept : std::initializer_list<google::protobuf::Message*>{
           metadata.get(), involved.get(), source.get(), first.get(), last.get(), time.get()}) {
    if (kept != nullptr) kept->Clear();
  }
  event.set_allocated_metadata(metadata.release());
  event.set_allocated_involved_object(involved.release());
  event.set_allocated_source(source.release());
  event.set_allocated_first_timestamp(first.release());
  event.set_allocated_last_timestamp(last.release());
  event.set_allocated_event_time(time.release());
}

}  // namespace

EventRecorder::EventRecorder(Client* client, std::string component)
    : client_(client), component_(std::move(component)) {}

absl::Status EventRecorder::Record(const google::protobuf::Message& object,
                                   std::string_view type, std::string_view reason,
                                   std::string_view message) {
  // Reasons and messages carry text from outside (a probe's output): bytes that are not
  // UTF-8 are shown as U+FFFD, as Kubernetes' API shows them, instead of costing the Event.
  std::string valid_reason, valid_message;
  const auto make_valid = [](std::string_view& text, std::string& storage) {
    if (!api::internal::IsValidUtf8(text)) text = storage = api::internal::ToValidUtf8(text);
  };
  make_valid(reason, valid_reason);
  make_valid(message, valid_message);
  const api::v1::ObjectMeta* meta = internal::Meta(object);
  if (meta == nullptr) {
    return absl::InvalidArgumentError(
        fmt::format("event about a {}: not an object", object.GetDescriptor()->full_name()));
  }
  ORCH_ASSIGN_OR_RETURN(const api::Kind* kind, client_->KindOf(*object.GetDescriptor()));
  const std::string_view ns =
      meta->namespace_().empty() ? std::string_view("default") : meta->namespace_();
  const std::string_view parts[] = {ns,   meta->name(), meta->uid(),
                                    type, reason,       message};
  std::string key(kind->kind);
  key.reserve(key.size() + std::size(parts) +
              std::accumulate(std::begin(parts), std::end(parts), size_t{0},
                              [](size_t n, std::string_view part) { return n + part.size(); }));
  for (std::string_view part : parts) key.append(1, '\x1f').append(part);
  const absl::Time now = client_->clock()->Now();

  MutexLock lock(&mu_);
  auto it = seen_.find(key);
  if (it != seen_.end() && now - it->second.first < kAggregationWindow) {
    Seen& seen = it->second;
    absl::StatusOr<api::v1::Event> existing = client_->Get<api::v1::Event>(seen.ns, seen.name);
    if (existing.ok()) {
      existing->set_count(existing->count() + 1);
      *existing->mutable_last_timestamp() = api::MetaTime(now);
      absl::StatusOr<api::v1::Event> updated = client_->Update(*existing);
      if (updated.ok()) {
        seen.count = updated->count();
        lru_.splice(lru_.begin(), lru_, seen.lru);
        return absl::OkStatus();
      }
    }
    // The Event is gone or changed under us: write a new one.
    lru_.erase(seen.lru);
    seen_.erase(it);
  }

  // Written into the recorder's own Event, its strings assigned in place: they keep their
  // buffers from one Event to the next.
  api::v1::Event& event = scratch_;
  ClearKeepingBuffers(event);
  event.mutable_metadata()->mutable_namespace_()->assign(ns);
  api::v1::ObjectReference& ref = *event.mutable_involved_object();
  ref.mutable_kind()->assign(kind->kind);
  ref.mutable_namespace_()->assign(meta->namespace_());
  ref.mutable_name()->assign(meta->name());
  ref.mutable_uid()->assign(meta->uid());
  ref.mutable_api_version()->assign(kind->api_version());
  ref.mutable_resource_version()->assign(meta->resource_version());
  event.mutable_reason()->assign(reason);
  event.mutable_message()->assign(message);
  event.mutable_type()->assign(type);
  event.mutable_source()->mutable_component()->assign(component_);
  event.mutable_reporting_component()->assign(component_);
  *event.mutable_first_timestamp() = api::MetaTime(now);
  *event.mutable_last_timestamp() = api::MetaTime(now);
  *event.mutable_event_time() = api::MicroTime(now);
  event.set_count(1);
  // Kubernetes names an Event "<object>.<unix nanos in hex>"; under a virtual clock many
  // share an instant, so a per-recorder sequence keeps them apart, and a clash with
  // another recorder's Event moves on to the next number.
  // Written in place (CreateObject): no copy of the Event comes back.
  absl::Status created;
  for (int attempt = 0; attempt < 8; ++attempt) {
    const uint64_t unique = static_cast<uint64_t>(absl::ToUnixNanos(now)) + sequence_++;
    std::string& name = *event.mutable_metadata()->mutable_name();
    name.assign(meta->name()).append(".");
    absl::StrAppend(&name, absl::Hex(unique));
    created = client_->CreateObject(&event, Client::Share::kBytesOnly);
    if (!absl::IsAlreadyExists(created)) break;
  }
  if (!created.ok()) return created;

  auto [entry, inserted] = seen_.try_emplace(std::move(key));
  if (!inserted) lru_.erase(entry->second.lru);  // remembered, but past the window
  entry->second = Seen{std::string(ns), event.metadata().name(), 1, now, {}};
  lru_.push_front(&entry->first);  // node_hash_map: the key stays where it is
  entry->second.lru = lru_.begin();
  while (seen_.size() > kMaxRemembered) {
    seen_.erase(*lru_.back());
    lru_.pop_back();
  }
  return absl::OkStatus();
}

}  // namespace orch::client

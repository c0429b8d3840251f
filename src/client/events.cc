#include "orch/client/events.h"

#include <algorithm>
#include <cstring>
#include <initializer_list>
#include <iterator>
#include <memory>
#include <numeric>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "orch/api/time.h"
#include "orch/base/status.h"
#include "api/utf8.h"
#include "client/object.h"
#include "fmt/format.h"
#include "orch/api/v1/core.pb.h"

namespace orch::client {
namespace {

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

// What the recorder remembers of the Events it wrote lately, by aggregation key, in two
// generations. A key is looked up in the young one, then in the old one. Once the young
// one holds kRemembered keys it becomes the old one, and the old one is dropped whole: the
// keys written by the last kRemembered Puts are always there, up to twice as many are, and
// no key is evicted on its own. Each generation copies its entries' text into blocks of
// its own, so dropping one frees a few blocks. Evicting the least recent key at every
// Event, from a map and a recency list, touched memory long out of the CPU's caches (the
// key, its map node, its list node) and freed each piece.
class EventRecorder::Remembered {
 public:
  struct Entry {
    std::string_view ns;
    std::string_view name;  // the Event's
    absl::Time first;       // when the Event was written
  };

  // `key`'s entry, or nullptr; valid until the next Put.
  const Entry* Find(std::string_view key) const {
    for (const Generation* generation : {&young_, &old_}) {
      auto it = generation->entries.find(key);
      if (it != generation->entries.end()) return &it->second;
    }
    return nullptr;
  }

  // Remembers `key`, in place of what it was remembered with. The views may point into
  // this object's entries: they are copied before any generation is dropped.
  void Put(std::string_view key, std::string_view ns, std::string_view name, absl::Time first) {
    auto it = young_.entries.find(key);
    if (it != young_.entries.end()) {  // again (an Event counted once more): views kept
      Entry& entry = it->second;
      if (entry.ns != ns) entry.ns = young_.Copy(ns);
      if (entry.name != name) entry.name = young_.Copy(name);
      entry.first = first;
    } else {
      Entry entry{young_.Copy(ns), young_.Copy(name), first};
      young_.entries.emplace(young_.Copy(key), entry);
    }
    if (young_.entries.size() >= kRemembered || young_.bytes >= kRemembered * kBytesPerKey) {
      old_ = std::move(young_);
      young_ = Generation();
    }
  }

 private:
  static constexpr size_t kRemembered = 4096;
  // A generation also ends once its text passes kRemembered * kBytesPerKey: keys counted
  // again and again add no entry, but a new Event's name each time they are written anew.
  static constexpr size_t kBytesPerKey = 512;
  static constexpr size_t kBlockSize = 64 * 1024;

  struct Generation {
    absl::flat_hash_map<std::string_view, Entry> entries;  // views into `blocks`
    std::vector<std::unique_ptr<char[]>> blocks;
    char* next = nullptr;  // in blocks.back()
    size_t left = 0;
    size_t bytes = 0;  // copied so far

    std::string_view Copy(std::string_view text) {
      if (text.size() > left) {
        const size_t size = std::max(kBlockSize, text.size());
        blocks.push_back(std::make_unique_for_overwrite<char[]>(size));
        next = blocks.back().get();
        left = size;
      }
      if (!text.empty()) std::memcpy(next, text.data(), text.size());
      std::string_view copy(next, text.size());
      next += text.size();
      left -= text.size();
      bytes += text.size();
      return copy;
    }
  };

  Generation young_;
  Generation old_;
};

EventRecorder::EventRecorder(Client* client, std::string component)
    : client_(client), component_(std::move(component)),
      remembered_(std::make_unique<Remembered>()) {}

EventRecorder::~EventRecorder() = default;

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
  if (const Remembered::Entry* seen = remembered_->Find(key);
      seen != nullptr && now - seen->first < kAggregationWindow) {
    absl::StatusOr<api::v1::Event> existing = client_->Get<api::v1::Event>(seen->ns, seen->name);
    if (existing.ok()) {
      existing->set_count(existing->count() + 1);
      *existing->mutable_last_timestamp() = api::MetaTime(now);
      if (client_->Update(*existing).ok()) {
        remembered_->Put(key, seen->ns, seen->name, seen->first);
        return absl::OkStatus();
      }
    }
    // The Event is gone or changed under us: write a new one.
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

  remembered_->Put(key, ns, event.metadata().name(), now);
  return absl::OkStatus();
}

}  // namespace orch::client

#include "store/log_codec.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <memory>
#include <utility>
#include <vector>

#include "fmt/format.h"
#include "orch/base/status.h"

namespace orch::store::internal {
namespace {

constexpr uint8_t kSnapshotFormat = 1;
constexpr size_t kMaxVarintBytes = 10;

void PutVarint(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

// Every integer the store logs is non-negative; a negative one would be a bug upstream,
// and encodes as a huge value that the decoder rejects.
void PutInt(std::string* out, int64_t v) { PutVarint(out, static_cast<uint64_t>(v)); }

void PutString(std::string* out, std::string_view s) {
  PutVarint(out, s.size());
  out->append(s);
}

// Reads what the Put functions wrote. Each read returns false, and the reader stays
// failed, when the input is short or malformed.
class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}

  bool Byte(uint8_t* v) {
    if (in_.empty()) return false;
    *v = static_cast<uint8_t>(in_.front());
    in_.remove_prefix(1);
    return true;
  }

  bool Varint(uint64_t* v) {
    uint64_t result = 0;
    for (size_t i = 0; i < kMaxVarintBytes && i < in_.size(); ++i) {
      const auto byte = static_cast<uint8_t>(in_[i]);
      if (i == kMaxVarintBytes - 1 && byte > 1) return false;  // beyond 64 bits
      if (i > 0 && byte == 0) return false;  // overlong: each value has one encoding
      result |= uint64_t{byte & 0x7fu} << (7 * i);
      if ((byte & 0x80) == 0) {
        in_.remove_prefix(i + 1);
        *v = result;
        return true;
      }
    }
    return false;
  }

  bool Int(int64_t* v) {
    uint64_t u = 0;
    if (!Varint(&u) || u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return false;
    }
    *v = static_cast<int64_t>(u);
    return true;
  }

  bool String(std::string_view* s) {
    uint64_t size = 0;
    if (!Varint(&size) || size > in_.size()) return false;
    *s = in_.substr(0, size);
    in_.remove_prefix(size);
    return true;
  }

  bool String(std::string* s) {
    std::string_view view;
    if (!String(&view)) return false;
    s->assign(view);
    return true;
  }

  bool done() const { return in_.empty(); }

 private:
  std::string_view in_;
};

absl::Status BadMutation(std::string_view why) {
  return absl::DataLossError(fmt::format("malformed log record: {}", why));
}

absl::Status BadSnapshot(std::string_view why) {
  return absl::DataLossError(fmt::format("malformed snapshot: {}", why));
}

// The fields of each kind, in order; false on malformed input.
bool ReadMutationFields(Reader& in, Mutation& m) {
  switch (m.kind) {
    case Mutation::Kind::kPut: {
      std::string value;
      if (!in.String(&m.key) || !in.String(&value) || !in.Int(&m.lease)) return false;
      m.value = std::move(value);
      return true;
    }
    case Mutation::Kind::kDelete:
      return in.String(&m.key);
    case Mutation::Kind::kGrantLease:
      return in.Int(&m.lease) && in.Int(&m.ttl_nanos);
    case Mutation::Kind::kKeepAlive:
    case Mutation::Kind::kRevokeLease:
      return in.Int(&m.lease);
    case Mutation::Kind::kCompact:
      return in.Int(&m.revision);
  }
  return false;
}

bool KnownKind(uint8_t kind) {
  return kind >= static_cast<uint8_t>(Mutation::Kind::kPut) &&
         kind <= static_cast<uint8_t>(Mutation::Kind::kCompact);
}

absl::Status CheckMutation(const Mutation& m) {
  switch (m.kind) {
    case Mutation::Kind::kPut:
    case Mutation::Kind::kDelete:
      if (m.key.empty()) return BadMutation("empty key");
      break;
    case Mutation::Kind::kGrantLease:
      if (m.lease <= 0) return BadMutation(fmt::format("lease id {}", m.lease));
      if (m.ttl_nanos <= 0) return BadMutation(fmt::format("lease ttl {} ns", m.ttl_nanos));
      break;
    default:
      break;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<StateImage::LeaseEntry>> ReadLeases(Reader& in,
                                                               LeaseId next_lease_id) {
  uint64_t count = 0;
  if (!in.Varint(&count)) return BadSnapshot("truncated lease count");
  std::vector<StateImage::LeaseEntry> leases;
  for (uint64_t i = 0; i < count; ++i) {
    StateImage::LeaseEntry lease;
    if (!in.Int(&lease.id) || !in.Int(&lease.ttl_nanos)) return BadSnapshot("truncated lease");
    const LeaseId previous = leases.empty() ? 0 : leases.back().id;
    if (lease.id <= previous || lease.id >= next_lease_id) {
      return BadSnapshot(fmt::format("lease id {} out of order or not below the next id {}",
                                     lease.id, next_lease_id));
    }
    if (lease.ttl_nanos <= 0) {
      return BadSnapshot(fmt::format("lease {} has ttl {} ns", lease.id, lease.ttl_nanos));
    }
    leases.push_back(lease);
  }
  return leases;
}

bool HasLease(const std::vector<StateImage::LeaseEntry>& leases, LeaseId id) {
  auto it = std::lower_bound(leases.begin(), leases.end(), id,
                             [](const StateImage::LeaseEntry& e, LeaseId v) { return e.id < v; });
  return it != leases.end() && it->id == id;
}

absl::Status CheckKeyValue(const KeyValue& kv, std::string_view previous_key, int64_t revision,
                           const std::vector<StateImage::LeaseEntry>& leases) {
  if (kv.key.empty() || (!previous_key.empty() && kv.key <= previous_key)) {
    return BadSnapshot(fmt::format("key \"{}\" is empty or out of order", kv.key));
  }
  if (kv.create_revision < 1 || kv.create_revision > kv.mod_revision ||
      kv.mod_revision > revision || kv.version < 1) {
    return BadSnapshot(fmt::format(
        "key \"{}\": create_revision {}, mod_revision {}, version {} at revision {}", kv.key,
        kv.create_revision, kv.mod_revision, kv.version, revision));
  }
  if (kv.lease != 0 && !HasLease(leases, kv.lease)) {
    return BadSnapshot(fmt::format("key \"{}\" is attached to unknown lease {}", kv.key, kv.lease));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<EventPtr>> ReadKeys(Reader& in, int64_t revision,
                                               const std::vector<StateImage::LeaseEntry>& leases) {
  uint64_t count = 0;
  if (!in.Varint(&count)) return BadSnapshot("truncated key count");
  std::vector<EventPtr> live;
  std::string_view previous_key;
  for (uint64_t i = 0; i < count; ++i) {
    auto event = std::make_shared<Event>();
    event->type = Event::Type::kPut;
    KeyValue& kv = event->kv;
    std::string value;
    if (!in.String(&kv.key) || !in.String(&value) || !in.Int(&kv.create_revision) ||
        !in.Int(&kv.mod_revision) || !in.Int(&kv.version) || !in.Int(&kv.lease)) {
      return BadSnapshot(fmt::format("truncated key {} of {}", i + 1, count));
    }
    kv.value = std::move(value);
    ORCH_RETURN_IF_ERROR(CheckKeyValue(kv, previous_key, revision, leases));
    live.push_back(std::move(event));
    previous_key = live.back()->kv.key;
  }
  return live;
}

}  // namespace

std::string EncodeMutation(const Mutation& m) {
  std::string out;
  out.reserve(1 + 3 * kMaxVarintBytes + m.key.size() + m.value.size());
  out.push_back(static_cast<char>(m.kind));
  switch (m.kind) {
    case Mutation::Kind::kPut:
      PutString(&out, m.key);
      PutString(&out, m.value);
      PutInt(&out, m.lease);
      break;
    case Mutation::Kind::kDelete:
      PutString(&out, m.key);
      break;
    case Mutation::Kind::kGrantLease:
      PutInt(&out, m.lease);
      PutInt(&out, m.ttl_nanos);
      break;
    case Mutation::Kind::kKeepAlive:
    case Mutation::Kind::kRevokeLease:
      PutInt(&out, m.lease);
      break;
    case Mutation::Kind::kCompact:
      PutInt(&out, m.revision);
      break;
  }
  return out;
}

absl::StatusOr<Mutation> DecodeMutation(std::string_view record) {
  Reader in(record);
  uint8_t kind = 0;
  if (!in.Byte(&kind)) return BadMutation("empty");
  if (!KnownKind(kind)) return BadMutation(fmt::format("unknown kind {}", kind));
  Mutation m;
  m.kind = static_cast<Mutation::Kind>(kind);
  if (!ReadMutationFields(in, m)) return BadMutation(fmt::format("truncated kind {}", kind));
  if (!in.done()) return BadMutation(fmt::format("bytes after a kind {} record", kind));
  ORCH_RETURN_IF_ERROR(CheckMutation(m));
  return m;
}

std::string EncodeSnapshot(const StateImage& image) {
  std::string out;
  size_t bytes = 64 + image.leases.size() * 2 * kMaxVarintBytes;
  for (const EventPtr& event : image.live) {
    bytes += 6 * kMaxVarintBytes + event->kv.key.size() + event->kv.value.size();
  }
  out.reserve(bytes);
  out.push_back(static_cast<char>(kSnapshotFormat));
  PutInt(&out, image.revision);
  PutInt(&out, image.next_lease_id);
  PutVarint(&out, image.leases.size());
  for (const StateImage::LeaseEntry& lease : image.leases) {
    PutInt(&out, lease.id);
    PutInt(&out, lease.ttl_nanos);
  }
  PutVarint(&out, image.live.size());
  for (const EventPtr& event : image.live) {
    const KeyValue& kv = event->kv;
    PutString(&out, kv.key);
    PutString(&out, kv.value);
    PutInt(&out, kv.create_revision);
    PutInt(&out, kv.mod_revision);
    PutInt(&out, kv.version);
    PutInt(&out, kv.lease);
  }
  return out;
}

absl::StatusOr<StateImage> DecodeSnapshot(std::string_view data) {
  Reader in(data);
  uint8_t format = 0;
  if (!in.Byte(&format)) return BadSnapshot("empty");
  if (format > kSnapshotFormat) {
    return absl::FailedPreconditionError(fmt::format(
        "snapshot state has format {}; this orch reads up to {}", format, kSnapshotFormat));
  }
  if (format == 0) return BadSnapshot("format 0");
  StateImage image;
  if (!in.Int(&image.revision) || !in.Int(&image.next_lease_id)) {
    return BadSnapshot("truncated header");
  }
  if (image.next_lease_id < 1) {
    return BadSnapshot(fmt::format("next lease id {}", image.next_lease_id));
  }
  ORCH_ASSIGN_OR_RETURN(image.leases, ReadLeases(in, image.next_lease_id));
  ORCH_ASSIGN_OR_RETURN(image.live, ReadKeys(in, image.revision, image.leases));
  if (!in.done()) return BadSnapshot("bytes after the last key");
  return image;
}

}  // namespace orch::store::internal

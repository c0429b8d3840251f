#include "store/wal.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <filesystem>
#include <system_error>
#include <utility>

#include "fmt/format.h"
#include "orch/base/status.h"
#include "store/crc32c.h"
#include "store/file_io.h"
#include "store/snapshot.h"
#include "store/wal_format.h"

namespace orch::store::internal {
namespace {

// A group's records go into batches of about this size, so one batch header's u32 body
// length never overflows and a reader never needs more than one batch in memory at once.
constexpr size_t kBatchSealBytes = 16 << 20;

// ---- directory ----

struct NumberedFile {
  uint64_t number = 0;
  std::string path;
};

struct DirContents {
  std::vector<NumberedFile> segments;   // by first LSN
  std::vector<NumberedFile> snapshots;  // by LSN
  std::vector<std::string> temp_files;  // ours, left by a crash mid-write
  std::vector<std::string> foreign;     // names that are not orch's
};

std::string SegmentFileName(Lsn first_lsn) {
  return NumberedFileName(kSegmentPrefix, first_lsn, kSegmentSuffix);
}

std::optional<Lsn> ParseSegmentFileName(std::string_view name) {
  return ParseNumberedFileName(name, kSegmentPrefix, kSegmentSuffix);
}

bool IsOurTempFile(std::string_view name) {
  if (!name.ends_with(kTempSuffix)) return false;
  name.remove_suffix(kTempSuffix.size());
  return ParseSegmentFileName(name) || ParseSnapshotFileName(name);
}

absl::StatusOr<DirContents> ListDataDir(const std::string& dir) {
  absl::StatusOr<std::vector<std::string>> names = ListDir(dir);
  if (!names.ok()) return names.status();
  DirContents contents;
  for (const std::string& name : *names) {
    if (std::optional<Lsn> lsn = ParseSegmentFileName(name)) {
      contents.segments.push_back({*lsn, JoinPath(dir, name)});
    } else if (std::optional<Lsn> lsn = ParseSnapshotFileName(name)) {
      contents.snapshots.push_back({*lsn, JoinPath(dir, name)});
    } else if (IsOurTempFile(name)) {
      contents.temp_files.push_back(JoinPath(dir, name));
    } else if (name != kLockFileName && name != "lost+found") {
      contents.foreign.push_back(name);
    }
  }
  auto by_number = [](const NumberedFile& a, const NumberedFile& b) { return a.number < b.number; };
  std::sort(contents.segments.begin(), contents.segments.end(), by_number);
  std::sort(contents.snapshots.begin(), contents.snapshots.end(), by_number);
  std::sort(contents.foreign.begin(), contents.foreign.end());
  return contents;
}

// Someone else's files and none of ours: the caller named the wrong directory.
absl::Status CheckDirIsOrchs(const std::string& dir, const DirContents& contents) {
  if (contents.foreign.empty() || !contents.segments.empty() || !contents.snapshots.empty()) {
    return absl::OkStatus();
  }
  return absl::FailedPreconditionError(fmt::format(
      "data directory {} holds files that are not orch's (such as {}); give orch an empty "
      "directory or one it created",
      dir, contents.foreign.front()));
}

absl::Status CreateDataDir(const std::string& dir, bool sync) {
  struct stat st;
  if (::stat(dir.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return absl::OkStatus();
    return absl::FailedPreconditionError(
        fmt::format("data directory {} exists and is not a directory", dir));
  }
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) {
    return absl::Status(absl::ErrnoToStatusCode(error.value()),
                        fmt::format("create directory {}: {}", dir, error.message()));
  }
  if (!sync) return absl::OkStatus();
  // The new directory's own entry must survive a power loss too.
  std::string trimmed = dir;
  while (trimmed.size() > 1 && trimmed.back() == '/') trimmed.pop_back();
  std::string parent = std::filesystem::path(trimmed).parent_path().string();
  return SyncDir(parent.empty() ? "." : parent);
}

absl::StatusOr<File> LockDataDir(const std::string& dir) {
  const std::string path = JoinPath(dir, kLockFileName);
  absl::StatusOr<File> lock = OpenFile(path, O_RDWR | O_CREAT);
  if (!lock.ok()) return lock.status();
  while (::flock(lock->fd(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EINTR) continue;
    if (errno == EWOULDBLOCK) {
      return absl::FailedPreconditionError(
          fmt::format("data directory {} is in use by another process", dir));
    }
    return PosixError("flock", path, errno);
  }
  return lock;
}

// ---- segments ----

std::array<char, kSegmentHeaderSize> EncodeSegmentHeader(Lsn first_lsn) {
  std::array<char, kSegmentHeaderSize> h{};
  kSegmentMagic.copy(h.data(), kSegmentMagic.size());
  PutFixed32(h.data() + 8, kFormatVersion);
  PutFixed32(h.data() + 12, 0);
  PutFixed64(h.data() + 16, first_lsn);
  PutFixed32(h.data() + 24, Crc32c(std::string_view(h.data(), 24)));
  return h;
}

absl::Status CheckSegmentHeader(const std::string& path, std::string_view c, Lsn named_lsn) {
  const std::string_view magic = c.substr(0, kSegmentMagic.size());
  if (magic != kSegmentMagic.substr(0, magic.size())) {
    return absl::FailedPreconditionError(
        fmt::format("{} is not an orch write-ahead log segment", path));
  }
  if (c.size() < kSegmentHeaderSize) {
    return absl::DataLossError(
        fmt::format("{}: segment header is incomplete ({} bytes)", path, c.size()));
  }
  const uint32_t version = GetFixed32(c.data() + 8);
  if (version > kFormatVersion) {
    return absl::FailedPreconditionError(fmt::format(
        "{} has format version {}; this orch reads up to {}", path, version, kFormatVersion));
  }
  if (Crc32c(c.substr(0, 24)) != GetFixed32(c.data() + 24) || version == 0) {
    return absl::DataLossError(fmt::format("{}: segment header is damaged", path));
  }
  if (const Lsn lsn = GetFixed64(c.data() + 16); lsn != named_lsn) {
    return absl::DataLossError(
        fmt::format("{}: header says the first lsn is {}, the name says {}", path, lsn, named_lsn));
  }
  return absl::OkStatus();
}

struct BatchView {
  Lsn first_lsn = 0;
  uint32_t count = 0;
  std::string_view body;
  size_t end = 0;  // offset just after the batch
};

// Reads the batch at `offset` of a segment's contents; false (with `*problem`) if it is
// incomplete or fails a checksum.
bool ReadBatch(std::string_view c, size_t offset, BatchView* out, std::string* problem) {
  const size_t left = c.size() - offset;
  if (left < kBatchHeaderSize) {
    *problem = fmt::format("incomplete batch header ({} of {} bytes)", left, kBatchHeaderSize);
    return false;
  }
  const char* h = c.data() + offset;
  if (Crc32c(std::string_view(h, 20)) != GetFixed32(h + 20)) {
    *problem = "batch header checksum mismatch";
    return false;
  }
  const uint32_t length = GetFixed32(h);
  if (length > left - kBatchHeaderSize) {
    *problem = fmt::format("batch of {} bytes runs past the end of the file", length);
    return false;
  }
  const std::string_view body = c.substr(offset + kBatchHeaderSize, length);
  if (Crc32c(body) != GetFixed32(h + 16)) {
    *problem = "batch checksum mismatch";
    return false;
  }
  *out = {GetFixed64(h + 8), GetFixed32(h + 4), body, offset + kBatchHeaderSize + length};
  return true;
}

// Whether a whole, checksum-valid batch starts anywhere at or after `from`. A torn final
// write has none after it (it was the last write); damage in the middle of the log has.
bool ValidBatchAfter(std::string_view c, size_t from) {
  BatchView batch;
  std::string ignored;
  for (size_t offset = from; offset + kBatchHeaderSize <= c.size(); ++offset) {
    if (ReadBatch(c, offset, &batch, &ignored)) return true;
  }
  return false;
}

absl::Status ForEachRecord(const std::string& path, size_t offset, const BatchView& batch,
                           Lsn deliver_after, const Wal::RecordCallback* callback) {
  auto malformed = [&](std::string_view why) {
    return absl::DataLossError(
        fmt::format("{}: malformed batch at offset {}: {}", path, offset, why));
  };
  if (batch.count == 0) return malformed("no records");
  std::string_view rest = batch.body;
  for (uint32_t i = 0; i < batch.count; ++i) {
    if (rest.size() < kRecordHeaderSize) return malformed("record header past the batch end");
    const uint32_t length = GetFixed32(rest.data());
    rest.remove_prefix(kRecordHeaderSize);
    if (length > rest.size()) return malformed("record past the batch end");
    const Lsn lsn = batch.first_lsn + i;
    if (callback != nullptr && lsn > deliver_after) {
      ORCH_RETURN_IF_ERROR((*callback)(lsn, rest.substr(0, length)));
    }
    rest.remove_prefix(length);
  }
  if (!rest.empty()) return malformed("bytes after the last record");
  return absl::OkStatus();
}

enum class TailPolicy {
  kStrict,       // any damage is kDataLoss
  kCutTornTail,  // damage with no valid batch after it is a torn final write
};

struct SegmentScan {
  uint64_t records = 0;
  size_t valid_end = 0;      // offset after the last valid batch
  std::string torn_reason;   // non-empty: the bytes from valid_end on are a torn write
};

// Checks a segment and calls `callback` (if any) for its records with LSN > deliver_after.
absl::StatusOr<SegmentScan> ScanSegment(const std::string& path, std::string_view c,
                                        Lsn first_lsn, TailPolicy policy, Lsn deliver_after,
                                        const Wal::RecordCallback* callback) {
  ORCH_RETURN_IF_ERROR(CheckSegmentHeader(path, c, first_lsn));
  SegmentScan scan;
  size_t offset = kSegmentHeaderSize;
  Lsn next = first_lsn;
  while (offset < c.size()) {
    BatchView batch;
    std::string problem;
    if (!ReadBatch(c, offset, &batch, &problem)) {
      if (policy == TailPolicy::kCutTornTail && !ValidBatchAfter(c, offset + 1)) {
        scan.torn_reason = std::move(problem);
        break;
      }
      return absl::DataLossError(
          fmt::format("{}: corrupt log at offset {}: {}", path, offset, problem));
    }
    if (batch.first_lsn != next) {
      return absl::DataLossError(fmt::format("{}: batch at offset {} holds lsn {}, expected {}",
                                             path, offset, batch.first_lsn, next));
    }
    ORCH_RETURN_IF_ERROR(ForEachRecord(path, offset, batch, deliver_after, callback));
    next += batch.count;
    scan.records += batch.count;
    offset = batch.end;
  }
  scan.valid_end = offset;
  return scan;
}

// Index of the segment holding lsn `after + 1`: the last one starting at or before it.
template <typename SegmentList>
std::optional<size_t> FirstNeededSegment(const SegmentList& segments, Lsn after) {
  std::optional<size_t> index;
  for (size_t i = 0; i < segments.size() && segments[i].first_lsn <= after + 1; ++i) index = i;
  return index;
}

}  // namespace

// ---- open and recovery ----

Wal::Wal(WalOptions options, std::unique_ptr<File> lock_file)
    : options_(std::move(options)), lock_file_(std::move(lock_file)) {}

absl::StatusOr<std::unique_ptr<Wal>> Wal::Open(WalOptions options) {
  if (options.dir.empty()) {
    return absl::InvalidArgumentError("dir: the data directory must be named");
  }
  if (options.segment_bytes <= 0) {
    return absl::InvalidArgumentError(
        fmt::format("segment_bytes: must be positive, got {}", options.segment_bytes));
  }
  ORCH_RETURN_IF_ERROR(CreateDataDir(options.dir, options.sync));
  // Refuse a foreign directory before leaving a lock file in it.
  ORCH_ASSIGN_OR_RETURN(DirContents before, ListDataDir(options.dir));
  ORCH_RETURN_IF_ERROR(CheckDirIsOrchs(options.dir, before));
  ORCH_ASSIGN_OR_RETURN(File lock, LockDataDir(options.dir));
  std::unique_ptr<Wal> wal(
      new Wal(std::move(options), std::make_unique<File>(std::move(lock))));
  ORCH_RETURN_IF_ERROR(wal->Recover());
  return wal;
}

absl::Status Wal::Recover() {
  ORCH_ASSIGN_OR_RETURN(DirContents contents, ListDataDir(options_.dir));
  for (const std::string& temp : contents.temp_files) {
    ORCH_RETURN_IF_ERROR(RemoveFile(temp));
  }
  for (auto it = contents.snapshots.rbegin(); it != contents.snapshots.rend(); ++it) {
    absl::StatusOr<WalSnapshot> snapshot = ReadSnapshotFile(it->path, it->number);
    if (snapshot.ok()) {
      recovered_snapshot_ = std::move(*snapshot);
      recovery_.snapshot_file = it->path;
      break;
    }
    if (snapshot.status().code() != absl::StatusCode::kDataLoss) return snapshot.status();
    recovery_.skipped_snapshots.emplace_back(snapshot.status().message());
  }
  if (recovered_snapshot_) {
    replay_after_ = recovered_snapshot_->lsn;
    MutexLock lock(&snapshot_mu_);
    newest_snapshot_ = replay_after_;
  }
  std::vector<Segment> segments;
  for (NumberedFile& file : contents.segments) {
    segments.push_back({file.number, std::move(file.path)});
  }
  return RecoverSegments(std::move(segments));
}

absl::Status Wal::RecoverSegments(std::vector<Segment> segments) {
  const Lsn base = replay_after_;
  const std::optional<size_t> start = FirstNeededSegment(segments, base);
  if (!segments.empty() && !start) {
    return absl::DataLossError(fmt::format(
        "data directory {}: the log starts at lsn {} ({}) but the newest valid snapshot "
        "covers only up to lsn {}{}",
        options_.dir, segments.front().first_lsn, segments.front().path, base,
        recovery_.skipped_snapshots.empty()
            ? ""
            : fmt::format(" (skipped: {})", recovery_.skipped_snapshots.front())));
  }
  Lsn next = base + 1;
  SegmentScan last_scan;
  int64_t log_bytes = 0;
  for (size_t i = start.value_or(segments.size()); i < segments.size(); ++i) {
    const Segment& segment = segments[i];
    if (i != *start && segment.first_lsn != next) {
      return absl::DataLossError(fmt::format(
          "{}: starts at lsn {} but the segment before it ends at lsn {}", segment.path,
          segment.first_lsn, next - 1));
    }
    ORCH_ASSIGN_OR_RETURN(std::string c, ReadFile(segment.path));
    const bool last = i + 1 == segments.size();
    ORCH_ASSIGN_OR_RETURN(
        last_scan, ScanSegment(segment.path, c, segment.first_lsn,
                               last ? TailPolicy::kCutTornTail : TailPolicy::kStrict, 0, nullptr));
    if (!last_scan.torn_reason.empty()) {
      ORCH_ASSIGN_OR_RETURN(File file, OpenFile(segment.path, O_WRONLY));
      ORCH_RETURN_IF_ERROR(file.Truncate(last_scan.valid_end));
      if (options_.sync) ORCH_RETURN_IF_ERROR(file.DataSync());
      recovery_.truncated_file = segment.path;
      recovery_.truncated_at = last_scan.valid_end;
      recovery_.truncated_bytes = c.size() - last_scan.valid_end;
      recovery_.truncated_reason = last_scan.torn_reason;
    }
    next = segment.first_lsn + last_scan.records;
    log_bytes += static_cast<int64_t>(last_scan.valid_end - kSegmentHeaderSize);
  }

  MutexLock io(&io_mu_);
  const bool continue_last = !segments.empty() && next > base;
  segments_ = std::move(segments);
  if (!continue_last) {
    // A fresh directory, or a snapshot beyond the log's end (possible only without
    // sync): the log goes on after the snapshot.
    next = base + 1;
    ORCH_RETURN_IF_ERROR(StartSegment(next));
  } else {
    ORCH_ASSIGN_OR_RETURN(File active, OpenFile(segments_.back().path, O_WRONLY | O_APPEND));
    active_ = std::make_unique<File>(std::move(active));
    active_size_ = last_scan.valid_end;
    active_has_records_ = last_scan.records > 0;
  }
  MutexLock lock(&mu_);
  next_lsn_ = next;
  durable_lsn_ = next - 1;
  bytes_since_snapshot_ = log_bytes;
  recovery_.last_lsn = next - 1;
  return absl::OkStatus();
}

Wal::~Wal() {
  Lsn last = 0;
  bool flush = false;
  {
    MutexLock lock(&mu_);
    flush = error_.ok() && durable_lsn_ + 1 < next_lsn_;
    last = next_lsn_ - 1;
  }
  if (flush) Sync(last).IgnoreError();  // nobody waits for the result: best effort
}

std::optional<WalSnapshot> Wal::TakeRecoveredSnapshot() {
  return std::exchange(recovered_snapshot_, std::nullopt);
}

absl::Status Wal::Replay(RecordCallback callback) {
  MutexLock io(&io_mu_);  // no group writes meanwhile
  const std::optional<size_t> start = FirstNeededSegment(segments_, replay_after_);
  for (size_t i = start.value_or(segments_.size()); i < segments_.size(); ++i) {
    const Segment& segment = segments_[i];
    ORCH_ASSIGN_OR_RETURN(std::string c, ReadFile(segment.path));
    // The active segment may end in a write that failed (and poisoned the log).
    if (i + 1 == segments_.size() && c.size() > active_size_) c.resize(active_size_);
    ORCH_RETURN_IF_ERROR(ScanSegment(segment.path, c, segment.first_lsn, TailPolicy::kStrict,
                                     replay_after_, &callback)
                             .status());
  }
  return absl::OkStatus();
}

// ---- writing ----

absl::StatusOr<Lsn> Wal::Enqueue(std::string_view record) {
  if (record.size() > kMaxRecordBytes) {
    return absl::InvalidArgumentError(fmt::format(
        "record: {} bytes exceeds the limit of {} bytes", record.size(), kMaxRecordBytes));
  }
  char length[kRecordHeaderSize];
  PutFixed32(length, static_cast<uint32_t>(record.size()));
  MutexLock lock(&mu_);
  if (!error_.ok()) return error_;
  if (pending_.empty() || pending_.back().bytes.size() >= kBatchSealBytes) {
    pending_.push_back({next_lsn_, 0, std::string(kBatchHeaderSize, '\0')});
  }
  Batch& batch = pending_.back();
  batch.bytes.append(length, kRecordHeaderSize);
  batch.bytes.append(record);
  ++batch.count;
  bytes_since_snapshot_ += static_cast<int64_t>(kRecordHeaderSize + record.size());
  return next_lsn_++;
}

absl::Status Wal::Sync(Lsn lsn) {
  MutexLock lock(&mu_);
  if (lsn >= next_lsn_) {
    return absl::InvalidArgumentError(
        fmt::format("lsn: {} was never enqueued (the last is {})", lsn, next_lsn_ - 1));
  }
  if (durable_lsn_ >= lsn) return absl::OkStatus();
  ++waiters_;
  ++arrivals_since_group_;
  if (gathering_ && arrivals_since_group_ >= last_group_writers_) gathered_.Signal();
  absl::Status status;
  for (;;) {
    if (durable_lsn_ >= lsn) break;
    if (!error_.ok()) {
      status = error_;
      break;
    }
    if (!leader_active_) {
      LeadGroup();
      continue;
    }
    // Wait with the writers of the group being written, or of the one after it.
    const uint64_t group = lsn <= in_flight_last_ ? groups_started_ : groups_started_ + 1;
    group_done_[group % 2].Wait(&mu_);
  }
  --waiters_;
  return status;
}

absl::StatusOr<Lsn> Wal::Append(std::string_view record) {
  ORCH_ASSIGN_OR_RETURN(const Lsn lsn, Enqueue(record));
  ORCH_RETURN_IF_ERROR(Sync(lsn));
  return lsn;
}

// Takes everything enqueued so far and writes it with one write and one fdatasync, with
// mu_ released meanwhile so other writers can enqueue the next group.
void Wal::LeadGroup() {
  leader_active_ = true;
  if (options_.gather_group && options_.sync) GatherGroup();  // without sync: nothing to share
  std::vector<Batch> group;
  group.swap(pending_);
  const Lsn group_last = next_lsn_ - 1;
  const int group_writers = waiters_;  // every waiter's record is in this group
  const uint64_t number = ++groups_started_;
  in_flight_last_ = group_last;
  mu_.Unlock();
  const absl::Time start = absl::Now();  // real time, not a Clock: this measures the disk
  absl::Status status;
  {
    MutexLock io(&io_mu_);
    status = WriteGroup(group);
  }
  const absl::Duration took = absl::Now() - start;
  mu_.Lock();
  leader_active_ = false;
  if (!status.ok()) {
    error_ = absl::FailedPreconditionError(fmt::format(
        "the write-ahead log in {} accepts no more writes until it is reopened: {}",
        options_.dir, std::string(status.message())));
    group_done_[0].SignalAll();
    group_done_[1].SignalAll();
    return;
  }
  stats_.groups += 1;
  stats_.records += group_last - durable_lsn_;
  for (const Batch& batch : group) stats_.bytes += batch.bytes.size();
  durable_lsn_ = group_last;
  last_group_writers_ = group_writers;
  arrivals_since_group_ = 0;
  group_time_ = (group_time_ * 7 + took) / 8;
  group_done_[number % 2].SignalAll();    // this group's writers return
  group_done_[(number + 1) % 2].Signal();  // one writer of the next group leads it
}

// Waits, briefly, until as many writers have come to Sync since the last group as that
// group acknowledged: they are the ones most likely to write again right away.
void Wal::GatherGroup() {
  const absl::Time deadline = absl::Now() + group_time_ / 4;
  gathering_ = true;
  while (arrivals_since_group_ < last_group_writers_) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) break;
    gathered_.WaitWithTimeout(&mu_, left);
  }
  gathering_ = false;
}

absl::Status Wal::WriteGroup(std::vector<Batch>& group) {
  if (group.empty()) return absl::OkStatus();
  if (active_has_records_ && active_size_ >= static_cast<uint64_t>(options_.segment_bytes)) {
    ORCH_RETURN_IF_ERROR(StartSegment(group.front().first_lsn));
  }
  std::vector<std::string_view> parts;
  parts.reserve(group.size());
  uint64_t total = 0;
  for (Batch& batch : group) {
    char* h = batch.bytes.data();
    const std::string_view body = std::string_view(batch.bytes).substr(kBatchHeaderSize);
    PutFixed32(h, static_cast<uint32_t>(body.size()));
    PutFixed32(h + 4, batch.count);
    PutFixed64(h + 8, batch.first_lsn);
    PutFixed32(h + 16, Crc32c(body));
    PutFixed32(h + 20, Crc32c(std::string_view(h, 20)));
    parts.push_back(batch.bytes);
    total += batch.bytes.size();
  }
  ORCH_RETURN_IF_ERROR(active_->Write(parts));
  active_size_ += total;
  active_has_records_ = true;
  if (options_.sync) ORCH_RETURN_IF_ERROR(active_->DataSync());
  return absl::OkStatus();
}

absl::Status Wal::StartSegment(Lsn first_lsn) {
  const std::array<char, kSegmentHeaderSize> header = EncodeSegmentHeader(first_lsn);
  const std::string_view part(header.data(), header.size());
  const std::string name = SegmentFileName(first_lsn);
  ORCH_RETURN_IF_ERROR(
      WriteFileAtomically(options_.dir, name, std::span(&part, 1), options_.sync));
  const std::string path = JoinPath(options_.dir, name);
  ORCH_ASSIGN_OR_RETURN(File file, OpenFile(path, O_WRONLY | O_APPEND));
  active_ = std::make_unique<File>(std::move(file));
  active_size_ = kSegmentHeaderSize;
  active_has_records_ = false;
  segments_.push_back({first_lsn, path});
  return absl::OkStatus();
}

// ---- snapshots ----

absl::Status Wal::WriteSnapshot(Lsn lsn, std::string_view data) {
  MutexLock snapshot_lock(&snapshot_mu_);
  if (const Lsn last = last_lsn(); lsn > last) {
    return absl::InvalidArgumentError(
        fmt::format("lsn: snapshot at {} is beyond the log's last record {}", lsn, last));
  }
  if (newest_snapshot_ && lsn < *newest_snapshot_) {
    return absl::InvalidArgumentError(fmt::format(
        "lsn: snapshot at {} is older than the newest snapshot {}", lsn, *newest_snapshot_));
  }
  // The log must never end before the newest snapshot: recovery continues it from there.
  if (lsn > 0) ORCH_RETURN_IF_ERROR(Sync(lsn));
  ORCH_RETURN_IF_ERROR(WriteSnapshotFile(options_.dir, lsn, data, options_.sync));
  if (newest_snapshot_ != lsn) {
    previous_snapshot_ = newest_snapshot_;
    newest_snapshot_ = lsn;
  }
  {
    MutexLock lock(&mu_);
    bytes_since_snapshot_ = 0;
  }
  RemoveFilesBefore(previous_snapshot_, lsn);
  return absl::OkStatus();
}

// Keeps the newest snapshot and the one before it, and the segments that one needs.
// Failures to delete are ignored: the files are retried at the next snapshot (or the
// next Open), and an extra old file never changes what recovery reads.
void Wal::RemoveFilesBefore(std::optional<Lsn> previous_snapshot, Lsn newest_snapshot) {
  absl::StatusOr<DirContents> contents = ListDataDir(options_.dir);
  if (contents.ok()) {
    for (const NumberedFile& snapshot : contents->snapshots) {
      if (snapshot.number != newest_snapshot && snapshot.number != previous_snapshot) {
        RemoveFile(snapshot.path).IgnoreError();
      }
    }
  }
  if (!previous_snapshot) return;
  std::vector<std::string> covered;
  {
    MutexLock io(&io_mu_);
    // Segment i's last record is segments_[i + 1].first_lsn - 1; the active one stays.
    size_t keep_from = 0;
    while (keep_from + 1 < segments_.size() &&
           segments_[keep_from + 1].first_lsn <= *previous_snapshot + 1) {
      covered.push_back(segments_[keep_from].path);
      ++keep_from;
    }
    segments_.erase(segments_.begin(), segments_.begin() + static_cast<ptrdiff_t>(keep_from));
  }
  for (const std::string& path : covered) RemoveFile(path).IgnoreError();
}

// ---- state ----

Lsn Wal::last_lsn() const {
  MutexLock lock(&mu_);
  return next_lsn_ - 1;
}

Lsn Wal::durable_lsn() const {
  MutexLock lock(&mu_);
  return durable_lsn_;
}

int64_t Wal::bytes_since_snapshot() const {
  MutexLock lock(&mu_);
  return bytes_since_snapshot_;
}

absl::Status Wal::status() const {
  MutexLock lock(&mu_);
  return error_;
}

WalStats Wal::stats() const {
  MutexLock lock(&mu_);
  return stats_;
}

}  // namespace orch::store::internal

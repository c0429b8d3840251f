// Tests of the write-ahead log behind a durable MemoryStore (src/store/wal.h): format,
// recovery rules, group commit, snapshots, and crashes of a real process (kill -9).
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "orch/base/mutex.h"
#include "store/crc32c.h"
#include "store/wal.h"
#include "store/wal_format.h"
#include "store/crash_harness.h"
#include "store/temp_dir.h"
#include "support/status_matchers.h"

namespace orch::store::internal {
namespace {

using ::orch::store::testing::FilesWithPrefix;
using ::orch::store::testing::ReadBytes;
using ::orch::store::testing::WriteBytes;

namespace fs = std::filesystem;
using ::orch::testing::IsOk;
using ::orch::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pair;
using ::testing::SizeIs;

using Records = std::vector<std::pair<Lsn, std::string>>;

std::vector<std::string> Segments(const std::string& dir) {
  return FilesWithPrefix(dir, kSegmentPrefix);
}

std::vector<std::string> Snapshots(const std::string& dir) {
  return FilesWithPrefix(dir, kSnapshotPrefix);
}

absl::StatusOr<Records> ReplayAll(Wal& wal) {
  Records records;
  absl::Status status = wal.Replay([&](Lsn lsn, std::string_view record) {
    records.emplace_back(lsn, std::string(record));
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return records;
}

// A record whose bytes say what it is, so a partial or mixed-up record is detected.
std::string Payload(int n, size_t size) {
  std::string out = absl::StrCat("record-", n, ":");
  std::mt19937 bytes(static_cast<uint32_t>(n));
  while (out.size() < size) out.push_back(static_cast<char>('a' + bytes() % 26));
  return out;
}

class WalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "orch-wal-test-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    root_ = pattern;
    dir_ = root_ + "/data";
  }
  void TearDown() override { fs::remove_all(root_); }

  absl::StatusOr<std::unique_ptr<Wal>> Open(bool sync = true, int64_t segment_bytes = 64 << 20) {
    return Wal::Open({.dir = dir_, .segment_bytes = segment_bytes, .sync = sync});
  }

  // Appends records 1..n (record i = Payload(i, size)), each in its own group.
  void AppendNumbered(Wal& wal, int first, int last, size_t size = 100) {
    for (int i = first; i <= last; ++i) {
      ORCH_ASSERT_OK_AND_ASSIGN(Lsn lsn, wal.Append(Payload(i, size)));
      ASSERT_EQ(lsn, static_cast<Lsn>(i));
    }
  }

  // Reopens the directory and checks it replays exactly records first..last.
  void ExpectReplaysNumbered(int first, int last, size_t size = 100) {
    ORCH_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Wal> wal, Open());
    ORCH_ASSERT_OK_AND_ASSIGN(Records records, ReplayAll(*wal));
    ASSERT_THAT(records, SizeIs(last - first + 1));
    for (int i = first; i <= last; ++i) {
      EXPECT_EQ(records[i - first].first, static_cast<Lsn>(i));
      EXPECT_EQ(records[i - first].second, Payload(i, size)) << "lsn " << i;
    }
  }

  std::string root_;
  std::string dir_;
};

TEST(Crc32c, MatchesKnownVectors) {
  EXPECT_EQ(Crc32c("123456789"), 0xe3069283u);          // the standard check value
  EXPECT_EQ(Crc32c(std::string(32, '\0')), 0x8a9136aau);  // RFC 3720, B.4
  EXPECT_EQ(Crc32c(std::string(32, '\xff')), 0x62a8ab43u);
  const std::string text = "The quick brown fox jumps over the lazy dog, 0123456789";
  for (size_t split = 0; split <= text.size(); ++split) {  // Extend == one pass
    EXPECT_EQ(Crc32cExtend(Crc32c(text.substr(0, split)), text.data() + split,
                           text.size() - split),
              Crc32c(text));
  }
}

TEST_F(WalTest, AppendThenReplayRoundTrip) {
  const std::vector<std::string> written = {"", "a", std::string(100000, 'x'), Payload(4, 3000),
                                            std::string("\0\1\2", 3)};
  {
    ORCH_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Wal> wal, Open());
    EXPECT_EQ(wal->last_lsn(), 0u);
    ORCH_ASSERT_OK_AND_ASSIGN(Records none, ReplayAll(*wal));
    EXPECT_THAT(none, IsEmpty());
    for (size_t i = 0; i < written.size(); ++i) {
      ORCH_ASSERT_OK_AND_ASSIGN(Lsn lsn, wal->Append(written[i]));
      EXPECT_EQ(lsn, i + 1);
      EXPECT_EQ(wal->durable_lsn(), i + 1);
    }
  }
  ORCH_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Wal> wal, Open());
  EXPECT_EQ(wal->recovery_info().last_lsn, written.size());
  EXPECT_THAT(wal->recovery_info().truncated_file, IsEmpty());
  EXPECT_EQ(wal->TakeRecoveredSnapshot(), std::nullopt);
  ORCH_ASSERT_OK_AND_ASSIGN(Records records, ReplayAll(*wal));
  ASSERT_THAT(records, SizeIs(written.size()));
  for (size_t i = 0; i < written.size(); ++i) {
    EXPECT_EQ(records[i].first, i + 1);
    EXPECT_EQ(records[i].second, written[i]);
  }
  // The log goes on where it ended.
  ORCH_ASSERT_OK_AND_ASSIGN(Lsn next, wal->Append("after reopen"));
  EXPECT_EQ(next, written.size() + 1);
}

TEST_F(WalTest, EnqueueIsNotDurableUntilSync) {
  ORCH_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Wal> wal, Open());
  ORCH_ASSERT_OK_AND_ASSIGN(Lsn a, wal->Enqueue("a"));
  ORCH_ASSERT_OK_AND_ASSIGN(Lsn b, wal->Enqueue("b"));
  EXPECT_EQ(a, 1u);
  EXPECT_EQ(b, 2u);
  EXPECT_EQ(wal->last_lsn(), 2u);
  EXPECT_EQ(wal->durable_lsn(), 0u);
  EXPECT_THAT(wal->Sync(3), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("lsn")));
  ORCH_EXPECT_OK(wal->Sync(a));  // one group takes both
  EXPECT_EQ(wal->durable_lsn(), 2u);
  ORCH_EXPECT_OK(wal->Sync(b));
  ORCH_ASSERT_OK_AND_ASSIGN(Records records, ReplayAll(*wal));
  EXPECT_THAT(records, ElementsAre(Pair(1u, "a"), Pair(2u, "b")));
}

TEST_F(WalTest, ClosingFlushesEnqueuedRecords) {
  {
    ORCH_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Wal> wal, Open());
    ORCH_ASSERT_OK(wal->Enqueue("queued").status());
  }
  ORCH_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Wal> wal, Open());
  ORCH_ASSERT_OK_AND_ASSIGN(Records records, ReplayAll(*wal));
  EXPECT_THAT(records, ElementsAre(Pair(1u, "queued")));
}

TEST_F(WalTest, RejectsBadOptions) {
  EXPECT_THAT(Wal::Open({.dir = ""}), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("dir")));
  EXPECT_THAT(Wal::Open({.dir = dir_, .segment_bytes = 0}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("segment_bytes")));
  WriteBytes(root_ + "/plain-file", "x");
  EXPECT_THAT(Wal::Open({.dir = root_ + "/plain-file"}),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("not a directory")));
}

TEST_F(WalTest, SegmentsRotateAtTheSizeLimit) {
  {
    ORCH_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Wal> wal, Open(/*sync=*/true, /*segment_bytes=*/4096));
    AppendNumbered(*wal, 1, 100, 1000);
  }
  const std::vector<std::string> segments = Segments(dir_);
  // ~4 records of ~1 KB per 4 KB segment.
  EXPECT_GE(segments.size(), 20u);
  EXPECT_LE(segments.size(), 34u);
  for (const std::string& path : segments) {
    EXPECT_LT(fs::file_size(path), 4096u + 1100u) << path;  // at most one group past the limit
  }
  EXPECT_THAT(segments.front(), HasSubstr("wal-00000000000000000001.log"));
  ExpectReplaysNumbered(1, 100, 1000);
}

// A torn final write — the last record cut at any byte, or its bytes damaged — is
// removed at open (it was never acknowledged), and the log goes on cleanly after it.
TEST_F(WalTest, TornFinalRecordIsTruncatedAtEveryOffset) {
  uint64_t before = 0;
  {
    ORCH_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Wal> wal, Open(/*sync=*/false));
    AppendNumbered(*wal, 1, 5);
    before = fs::file_size(Segments(dir_).back());
    ORCH_ASSERT_OK(wal->Append(Payload(6, 100)).status());
  }
  const std::string segment = Segments(dir_).back();
  const std::string whole = ReadBytes(segment);
  ASSERT_EQ(whole.size(), before + kBatchHeaderSize + kRecordHeaderSize + 100);

  for (size_t cut = before; cut < whole.size(); ++cut) {
    SCOPED_TRACE(absl::StrCat("cut at ", cut));
    WriteBytes(segment, whole.substr(0, cut));
    {
      ORCH_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Wal> wal, Open(/*sync=*/false));
      const WalRecoveryInfo& info = wal->recovery_info();
      EXPECT_EQ(info.last_lsn, 5u);
      if (cut > before) {
        EXPECT_EQ(info.truncated_file, segment);
        EXPECT_EQ(info.truncated_at, before);
        EXPECT_EQ(info.truncated_bytes, cut - before);
      }
      ORCH_ASSERT_OK_AND_ASSIGN(Records records, ReplayAll(*wal));
      ASSERT_THAT(records, SizeIs(5));
      ORCH_ASSERT_OK_AND_ASSIGN(Lsn lsn, wal->Append("new"));
      EXPECT_EQ(lsn, 6u);
    }
    ORCH_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Wal> wal, Open(/*sync=*/false));
    EXPECT_THAT(wal->recovery_info().truncated_file, IsEmpty());
    ORCH_ASSERT_OK_AND_ASSIGN(Records records, ReplayAll(*wal));
    ASSERT_THAT(records, SizeIs(6));
    EXPECT_EQ(records[4].second, Payload(5, 100));
    EXPECT_THAT(records[5], Pair(6u, "new"));
  }

  // A whole final record with a damaged byte (header or payload), and a zero-filled
  // tail (the size reached the disk, the data did not), are torn writes too.
  for (size_t at : {before + 2, before + 21, whole.size() - 1}) {
    std::string damaged = whole;
    damaged[at] ^= 0x40;
    WriteBytes(segment, damaged);
    ORCH_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Wal> wal, Open(/*sync=*/false));
    EXPECT_EQ(wal->recovery_info().truncated_at, before) << "damage at " << at;
    EXPECT_EQ(wal->last_lsn(), 5u);
  }
  WriteBytes(segment, whole + std::string(4096, '\0'));
  ORCH_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Wal> wal, Open(/*sync=*/false));
  EXPECT_EQ(wal->recovery_info().truncated_at, whole.size());
  EXPECT_EQ(wal->last_lsn(), 6u);
}

TEST_F(WalTest, CorruptionInTheMiddleOfTheLogIsDataLoss) {
  {
    ORCH_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Wal> wal, Open());
    AppendNumbered(*wal, 1, 5);
  }
  const std::string segment = Segments(dir_).back();
  std::string bytes = ReadBytes(segment);
  bytes[kSegmentHeaderSize + kBatchHeaderSize + 10] ^= 1;  // inside record 1
  WriteBytes(segment, bytes);
  EXPECT_THAT(Open(), StatusIs(absl::StatusCode::kDataLoss,
                               AllOf(HasSubstr(segment), HasSubstr("offset 32"))));
  // Nothing was cut off: the damage is still there for a human to look at.
  EXPECT_EQ(ReadBytes(segment), bytes);
}

TEST_F(WalTest, DamageInANonFinalSegmentIsDataLoss) {
  {
    ORCH_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Wal> wal, Open(/*sync=*/true, /*segment_bytes=*/1024));
    AppendNumbered(*wal, 1, 30, 300);
  }
  const std::vector<std::string> segments = Segments(dir_);
  ASSERT_GE(segments.size(), 3u);
  // The end of a segment that is not the last one was synced before the next began: a
  // short one has lost acknowledged records.
  const std::string bytes = ReadBytes(segments[1]);
  WriteBytes(segments[1], bytes.substr(0, bytes.size() - 1));
  EXPECT_THAT(Open(), StatusIs(absl::StatusCode::kDataLoss, HasSubstr(segments[1])));
  WriteBytes(segments[1], bytes);
  ExpectReplaysNumbered(1, 30, 300);
  // A missing segment is a gap in the log.
  fs::remove(segments[1]);
  EXPECT_THAT(Open(), StatusIs(absl::StatusCode::kDataLoss, HasSubstr(segments[2])));
}

TEST_F(WalTest, RefusesADirectoryThatIsNotOrchs) {
  fs::create_directories(dir_);
  WriteBytes(dir_ + "/CURRENT", "MANIFEST-000001\n");
  EXPECT_THAT(Open(), StatusIs(absl::StatusCode::kFailedPrecondition,
                               AllOf(HasSubstr(dir_), HasSubstr("not orch's"))));
  EXPECT_FALSE(fs::exists(dir_ + "/LOCK"));  // left no trace

  fs::remove(dir_ + "/CURRENT");
  const std::string fake = dir_ + "/" + NumberedFileName(kSegmentPrefix, 1, kSegmentSuffix);
  WriteBytes(fake, std::string(64, 'z'));
  EXPECT_THAT(Open(), StatusIs(absl::StatusCode::kFailedPrecondition,
                               AllOf(HasSubstr(fake), HasSubstr("not an orch write-ahead log"))));

  std::string newer(kSegmentMagic);
  newer.append("\x07\0\0\0", 4);  // version 7
  newer.resize(kSegmentHeaderSize, '\0');
  WriteBytes(fake, newer);
  EXPECT_THAT(Open(), StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("version 7")));
}

TEST_F(WalTest, SnapshotThenReplayOnlyTheRecordsAfterIt) {
  {
    ORCH_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Wal> wal, Open());
    AppendNumbered(*wal, 1, 10);
    EXPECT_GT(wal->bytes_since_snapshot(), 1000);
    ORCH_ASSERT_OK(wal->WriteSnapshot(10, "state at 10"));
    EXPECT_EQ(wal->bytes_since_snapshot(), 0);
    AppendNumbered(*wal, 11, 15);
  }
  EXPECT_THAT(Snapshots(dir_), ElementsAre(HasSubstr("snap-00000000000000000010.snap")));
  ORCH_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Wal> wal, Open());
  EXPECT_THAT(wal->recovery_info().snapshot_file, HasSubstr("snap-00000000000000000010.snap"));
  std::optional<WalSnapshot> snapshot = wal->TakeRecoveredSnapshot();
  ASSERT_TRUE(snapshot.has_value());
  EXPECT_EQ(snapshot->lsn, 10u);
  EXPECT_EQ(snapshot->data, "state at 10");
  EXPECT_EQ(wal->TakeRecoveredSnapshot(), std::nullopt);  // handed over once
  ORCH_ASSERT_OK_AND_ASSIGN(Records records, ReplayAll(*wal));
  ASSERT_THAT(records, SizeIs(5));
  EXPECT_THAT(records.front(), Pair(11u, Payload(11, 100)));
  EXPECT_THAT(records.back(), Pair(15u, Payload(15, 100)));
}

TEST_F(WalTest, SnapshotArgumentsAreChecked) {
  ORCH_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Wal> wal, Open());
  AppendNumbered(*wal, 1, 3);
  EXPECT_THAT(wal->WriteSnapshot(4, "x"), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("beyond")));
  ORCH_ASSERT_OK(wal->WriteSnapshot(2, "x"));
  EXPECT_THAT(wal->WriteSnapshot(1, "x"), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("older")));
  ORCH_EXPECT_OK(wal->WriteSnapshot(2, "rewritten"));
  ORCH_EXPECT_OK(wal->WriteSnapshot(3, ""));
}

TEST_F(WalTest, SnapshotsDeleteWhatTheOneBeforeThemCovers) {
  ORCH_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Wal> wal, Open(/*sync=*/true, /*segment_bytes=*/1024));
  AppendNumbered(*wal, 1, 20, 300);
  const size_t segments_at_20 = Segments(dir_).size();
  ASSERT_GE(segments_at_20, 5u);
  ORCH_ASSERT_OK(wal->WriteSnapshot(20, "s20"));
  // The first snapshot deletes nothing: recovery may still need to fall back to the log.
  EXPECT_EQ(Segments(dir_).size(), segments_at_20);
  AppendNumbered(*wal, 21, 40, 300);
  ORCH_ASSERT_OK(wal->WriteSnapshot(40, "s40"));
  // Now everything up to lsn 20 is covered by the previous snapshot and goes.
  std::vector<std::string> segments = Segments(dir_);
  ASSERT_FALSE(segments.empty());
  const Lsn first_kept = *ParseNumberedFileName(fs::path(segments.front()).filename().string(),
                                                kSegmentPrefix, kSegmentSuffix);
  EXPECT_LE(first_kept, 21u);
  EXPECT_GT(first_kept, 10u);
  AppendNumbered(*wal, 41, 50, 300);
  ORCH_ASSERT_OK(wal->WriteSnapshot(50, "s50"));
  EXPECT_THAT(Snapshots(dir_), ElementsAre(HasSubstr("snap-00000000000000000040.snap"),
                                           HasSubstr("snap-00000000000000000050.snap")));
  AppendNumbered(*wal, 51, 55, 300);
  wal.reset();

  ORCH_ASSERT_OK_AND_ASSIGN(wal, Open(/*sync=*/true, /*segment_bytes=*/1024));
  EXPECT_EQ(wal->TakeRecoveredSnapshot()->data, "s50");
  ORCH_ASSERT_OK_AND_ASSIGN(Records records, ReplayAll(*wal));
  ASSERT_THAT(records, SizeIs(5));
  EXPECT_EQ(records.front().first, 51u);
}

TEST_F(WalTest, InvalidLatestSnapshotFallsBackToThePreviousOne) {
  {
    ORCH_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Wal> wal, Open(/*sync=*/true, /*segment_bytes=*/1024));
    AppendNumbered(*wal, 1, 10, 300);
    ORCH_ASSERT_OK(wal->WriteSnapshot(10, "s10"));
    AppendNumbered(*wal, 11, 20, 300);
    ORCH_ASSERT_OK(wal->WriteSnapshot(20, "s20"));
    AppendNumbered(*wal, 21, 25, 300);
  }
  const std::string newest = Snapshots(dir_).back();
  ASSERT_THAT(newest, HasSubstr("snap-00000000000000000020.snap"));
  const std::string good = ReadBytes(newest);
  for (const std::string& bad : {good.substr(0, good.size() - 1),  // torn
                                 [&] { std::string b = good; b[kSnapshotHeaderSize] ^= 1; return b; }(),
                                 std::string()}) {
    WriteBytes(newest, bad);
    ORCH_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Wal> wal, Open());
    EXPECT_THAT(wal->recovery_info().skipped_snapshots, ElementsAre(HasSubstr(newest)));
    std::optional<WalSnapshot> snapshot = wal->TakeRecoveredSnapshot();
    ASSERT_TRUE(snapshot.has_value());
    EXPECT_EQ(snapshot->lsn, 10u);
    EXPECT_EQ(snapshot->data, "s10");
    ORCH_ASSERT_OK_AND_ASSIGN(Records records, ReplayAll(*wal));
    ASSERT_THAT(records, SizeIs(15));
    EXPECT_THAT(records.front(), Pair(11u, Payload(11, 300)));
    EXPECT_THAT(records.back(), Pair(25u, Payload(25, 300)));
  }
  // Once the newest snapshot is whole again it is used again.
  WriteBytes(newest, good);
  ORCH_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Wal> wal, Open());
  EXPECT_THAT(wal->recovery_info().skipped_snapshots, IsEmpty());
  EXPECT_EQ(wal->TakeRecoveredSnapshot()->data, "s20");
  ORCH_ASSERT_OK_AND_ASSIGN(Records records, ReplayAll(*wal));
  EXPECT_THAT(records, SizeIs(5));
}

// Both snapshots damaged, and the log before the older one deleted: nothing can stand
// for the missing records.
TEST_F(WalTest, MissingRecordsBetweenSnapshotAndLogAreDataLoss) {
  {
    ORCH_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Wal> wal, Open(/*sync=*/true, /*segment_bytes=*/1024));
    AppendNumbered(*wal, 1, 10, 300);
    ORCH_ASSERT_OK(wal->WriteSnapshot(10, "s10"));
    AppendNumbered(*wal, 11, 20, 300);
    ORCH_ASSERT_OK(wal->WriteSnapshot(20, "s20"));  // deletes the log up to lsn 10
    AppendNumbered(*wal, 21, 22, 300);
  }
  for (const std::string& snapshot : Snapshots(dir_)) WriteBytes(snapshot, "garbage");
  EXPECT_THAT(Open(), StatusIs(absl::StatusCode::kDataLoss, HasSubstr("snapshot")));
}

// Possible only without fsync: the snapshot reached the disk, the log records it covers
// did not. The log goes on after the snapshot.
TEST_F(WalTest, SnapshotBeyondTheLogEndContinuesAfterTheSnapshot) {
  {
    ORCH_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Wal> wal, Open(/*sync=*/false));
    AppendNumbered(*wal, 1, 5);
    ORCH_ASSERT_OK(wal->WriteSnapshot(5, "s5"));
  }
  const std::string segment = Segments(dir_).back();
  WriteBytes(segment, ReadBytes(segment).substr(0, kSegmentHeaderSize));
  {
    ORCH_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Wal> wal, Open(/*sync=*/false));
    EXPECT_EQ(wal->last_lsn(), 5u);
    ORCH_ASSERT_OK_AND_ASSIGN(Lsn lsn, wal->Append("six"));
    EXPECT_EQ(lsn, 6u);
  }
  ORCH_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Wal> wal, Open(/*sync=*/false));
  EXPECT_EQ(wal->TakeRecoveredSnapshot()->data, "s5");
  ORCH_ASSERT_OK_AND_ASSIGN(Records records, ReplayAll(*wal));
  EXPECT_THAT(records, ElementsAre(Pair(6u, "six")));
}

TEST_F(WalTest, ReplayStopsAtTheCallbacksError) {
  ORCH_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Wal> wal, Open());
  AppendNumbered(*wal, 1, 5);
  int calls = 0;
  absl::Status status = wal->Replay([&](Lsn lsn, std::string_view) {
    ++calls;
    return lsn == 3 ? absl::InvalidArgumentError("bad record 3") : absl::OkStatus();
  });
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument, "bad record 3"));
  EXPECT_EQ(calls, 3);
}

TEST_F(WalTest, LockRefusesASecondOpener) {
  ORCH_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Wal> wal, Open());
  const std::string in_use = absl::StrCat("data directory ", dir_, " is in use by another process");
  EXPECT_THAT(Open(), StatusIs(absl::StatusCode::kFailedPrecondition, in_use));

  // And from another process.
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    absl::StatusOr<std::unique_ptr<Wal>> second = Wal::Open({.dir = dir_});
    ::_exit(!second.ok() && second.status().code() == absl::StatusCode::kFailedPrecondition &&
                    second.status().message() == in_use
                ? 0
                : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;

  wal.reset();
  ORCH_EXPECT_OK(Open());
}

// 8 writers append concurrently. Every record is replayed once, at the LSN its append
// returned, and a record acknowledged before another append began comes first in the log.
TEST_F(WalTest, ConcurrentAppendersAreAllReplayedInAcknowledgementOrder) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 150;
  struct Ack {
    int thread, seq;
    Lsn lsn;
    int64_t started, acknowledged;  // ticks of one global counter
  };
  std::atomic<int64_t> clock{0};
  std::vector<std::vector<Ack>> acks(kThreads);
  {
    ORCH_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Wal> wal, Open());
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kPerThread; ++i) {
          const int64_t started = clock.fetch_add(1);
          absl::StatusOr<Lsn> lsn = wal->Append(absl::StrCat(t, ":", i));
          const int64_t acknowledged = clock.fetch_add(1);
          if (!lsn.ok()) {
            ADD_FAILURE() << lsn.status();
            return;
          }
          acks[t].push_back({t, i, *lsn, started, acknowledged});
        }
      });
    }
    for (std::thread& thread : threads) thread.join();
    // Group commit: concurrent writers shared syncs.
    const WalStats stats = wal->stats();
    EXPECT_EQ(stats.records, static_cast<uint64_t>(kThreads * kPerThread));
    EXPECT_LT(stats.groups, stats.records / 2);
  }
  ORCH_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Wal> wal, Open());
  ORCH_ASSERT_OK_AND_ASSIGN(Records records, ReplayAll(*wal));
  ASSERT_THAT(records, SizeIs(kThreads * kPerThread));
  std::vector<Ack> all;
  for (const auto& per_thread : acks) all.insert(all.end(), per_thread.begin(), per_thread.end());
  for (const Ack& ack : all) {
    ASSERT_LE(ack.lsn, records.size());
    EXPECT_EQ(records[ack.lsn - 1].second, absl::StrCat(ack.thread, ":", ack.seq));
  }
  std::sort(all.begin(), all.end(), [](const Ack& a, const Ack& b) { return a.lsn < b.lsn; });
  // Nothing later in the log may have been acknowledged before an earlier record's
  // append began: walk from the end, keeping the earliest acknowledgement seen.
  int64_t earliest_later_ack = INT64_MAX;
  for (size_t i = all.size(); i-- > 0;) {
    ASSERT_GT(earliest_later_ack, all[i].started)
        << "a record after lsn " << all[i].lsn << " was acknowledged before it was appended";
    earliest_later_ack = std::min(earliest_later_ack, all[i].acknowledged);
  }
}

// A write that fails (here: the file size limit, EFBIG) poisons the log: that append and
// every later one fail, nothing is acknowledged that is not on disk, and a reopen recovers.
TEST_F(WalTest, AFailedWritePoisonsTheLog) {
  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(pipe_fds[0]);
    ::signal(SIGXFSZ, SIG_IGN);
    const rlimit limit = {64 << 10, 64 << 10};
    ::setrlimit(RLIMIT_FSIZE, &limit);
    absl::StatusOr<std::unique_ptr<Wal>> wal = Wal::Open({.dir = dir_});
    if (!wal.ok()) ::_exit(2);
    int acknowledged = 0;
    absl::Status failure;
    while (acknowledged < 1000) {
      absl::StatusOr<Lsn> lsn = (*wal)->Append(Payload(acknowledged + 1, 1000));
      if (!lsn.ok()) {
        failure = lsn.status();
        break;
      }
      ++acknowledged;
    }
    const bool poisoned =
        failure.code() == absl::StatusCode::kFailedPrecondition &&
        failure.message().find("/wal-00000000000000000001.log") != absl::string_view::npos &&
        (*wal)->Append("later").status().code() == absl::StatusCode::kFailedPrecondition &&
        (*wal)->Enqueue("later").status().code() == absl::StatusCode::kFailedPrecondition &&
        (*wal)->status().code() == absl::StatusCode::kFailedPrecondition;
    (void)!::write(pipe_fds[1], &acknowledged, sizeof acknowledged);
    ::_exit(poisoned ? 0 : 3);
  }
  ::close(pipe_fds[1]);
  int acknowledged = -1;
  ASSERT_EQ(::read(pipe_fds[0], &acknowledged, sizeof acknowledged),
            static_cast<ssize_t>(sizeof acknowledged));
  ::close(pipe_fds[0]);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_GT(acknowledged, 10);
  EXPECT_LT(acknowledged, 70);  // 64 KB of ~1 KB records

  ORCH_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Wal> wal, Open());
  EXPECT_EQ(wal->last_lsn(), static_cast<Lsn>(acknowledged));  // the torn write is gone
  ORCH_ASSERT_OK_AND_ASSIGN(Lsn lsn, wal->Append(Payload(acknowledged + 1, 1000)));
  EXPECT_EQ(lsn, static_cast<Lsn>(acknowledged + 1));
  wal.reset();
  ExpectReplaysNumbered(1, acknowledged + 1, 1000);
}

// ---- crash test: kill -9 of a process appending from several threads ----

struct RecordId {
  uint32_t round = 0;
  uint32_t thread = 0;
  uint32_t seq = 0;
  auto operator<=>(const RecordId&) const = default;
};

// "round/thread/seq|" then filler bytes that depend on the id, up to 2 KB.
std::string EncodeCrashRecord(const RecordId& id) {
  std::string out = absl::StrCat(id.round, "/", id.thread, "/", id.seq, "|");
  const uint32_t seed = id.round * 1000003u + id.thread * 7919u + id.seq;
  const size_t size = 16 + seed % 2000;
  std::mt19937 bytes(seed);
  while (out.size() < size) out.push_back(static_cast<char>(bytes()));
  return out;
}

std::optional<RecordId> DecodeCrashRecord(std::string_view record) {
  RecordId id;
  if (std::sscanf(std::string(record.substr(0, 40)).c_str(), "%u/%u/%u|", &id.round, &id.thread,
                  &id.seq) != 3) {
    return std::nullopt;
  }
  if (EncodeCrashRecord(id) != record) return std::nullopt;
  return id;
}

std::string EncodeIds(const std::vector<RecordId>& ids) {
  std::string out;
  for (const RecordId& id : ids) out.append(reinterpret_cast<const char*>(&id), sizeof id);
  return out;
}

std::vector<RecordId> DecodeIds(std::string_view data) {
  std::vector<RecordId> ids(data.size() / sizeof(RecordId));
  if (!ids.empty()) std::memcpy(ids.data(), data.data(), ids.size() * sizeof(RecordId));
  return ids;
}

constexpr int64_t kCrashSegmentBytes = 32 << 10;

// The child: recovers, then appends from 4 threads and snapshots from a fifth, as a store
// would (enqueue under the state lock, sync outside it), reporting every acknowledged id
// through `report_fd`. Runs until killed.
[[noreturn]] void CrashChild(const std::string& dir, int report_fd, uint32_t round) {
  ::alarm(20);  // never outlive a parent that died
  absl::StatusOr<std::unique_ptr<Wal>> opened =
      Wal::Open({.dir = dir, .segment_bytes = kCrashSegmentBytes});
  if (!opened.ok()) {
    std::fprintf(stderr, "child open: %s\n", opened.status().ToString().c_str());
    ::_exit(2);
  }
  Wal& wal = **opened;
  Mutex mu;
  std::vector<RecordId> state;  // guarded by mu
  if (std::optional<WalSnapshot> snapshot = wal.TakeRecoveredSnapshot()) {
    state = DecodeIds(snapshot->data);
  }
  absl::Status replayed = wal.Replay([&](Lsn, std::string_view record) {
    std::optional<RecordId> id = DecodeCrashRecord(record);
    if (!id) return absl::DataLossError("bad record");
    state.push_back(*id);
    return absl::OkStatus();
  });
  if (!replayed.ok()) ::_exit(3);

  std::vector<std::thread> threads;
  for (uint32_t t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (uint32_t seq = 0;; ++seq) {
        const RecordId id{round, t, seq};
        absl::StatusOr<Lsn> lsn;
        {
          MutexLock lock(&mu);
          lsn = wal.Enqueue(EncodeCrashRecord(id));
          state.push_back(id);
        }
        if (!lsn.ok() || !wal.Sync(*lsn).ok()) ::_exit(4);
        if (::write(report_fd, &id, sizeof id) != sizeof id) ::_exit(5);
      }
    });
  }
  for (;;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(3));
    std::string data;
    Lsn lsn;
    {
      MutexLock lock(&mu);
      data = EncodeIds(state);
      lsn = wal.last_lsn();
    }
    if (!wal.WriteSnapshot(lsn, data).ok()) ::_exit(6);
  }
}

TEST_F(WalTest, EveryAcknowledgedRecordSurvivesKillDashNine) {
  constexpr uint32_t kRounds = 30;
  uint32_t seed = std::random_device{}();
  if (const char* env = std::getenv("ORCH_WAL_CRASH_SEED")) seed = std::strtoul(env, nullptr, 10);
  std::printf("crash test seed %u (rerun with ORCH_WAL_CRASH_SEED=%u)\n", seed, seed);
  std::mt19937 random(seed);
  std::set<RecordId> acknowledged;
  int torn_tails = 0;

  for (uint32_t round = 0; round < kRounds; ++round) {
    SCOPED_TRACE(absl::StrCat("round ", round, " seed ", seed));
    int fds[2];
    ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
    std::fflush(stdout);
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      ::close(fds[0]);
      CrashChild(dir_, fds[1], round);
    }
    ::close(fds[1]);

    // Collect acknowledgements until the chosen moment, then kill -9, then take the rest
    // (written before the kill). Even rounds count the moment from the fork; odd rounds,
    // over a longer span, from the first acknowledgement, so a slow build (a sanitizer's)
    // still writes enough to check.
    const bool from_first = round % 2 == 1;
    const int delay_ms = std::uniform_int_distribution(1, 50)(random) * (from_first ? 4 : 1);
    ORCH_ASSERT_OK_AND_ASSIGN(
        std::string reports,
        ::orch::store::testing::KillChildAfter(child, fds[0], std::chrono::milliseconds(delay_ms),
                                               from_first));
    ASSERT_EQ(reports.size() % sizeof(RecordId), 0u);
    for (const RecordId& id : DecodeIds(reports)) acknowledged.insert(id);

    // Recover as the next process would.
    ORCH_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Wal> wal,
                              Wal::Open({.dir = dir_, .segment_bytes = kCrashSegmentBytes}));
    if (!wal->recovery_info().truncated_file.empty()) ++torn_tails;
    std::vector<RecordId> recovered;
    if (std::optional<WalSnapshot> snapshot = wal->TakeRecoveredSnapshot()) {
      recovered = DecodeIds(snapshot->data);
    }
    ORCH_ASSERT_OK(wal->Replay([&](Lsn lsn, std::string_view record) {
      std::optional<RecordId> id = DecodeCrashRecord(record);
      if (!id) return absl::DataLossError(absl::StrCat("partial record at lsn ", lsn));
      recovered.push_back(*id);
      return absl::OkStatus();
    }));
    const std::set<RecordId> unique(recovered.begin(), recovered.end());
    ASSERT_EQ(unique.size(), recovered.size()) << "a record was recovered twice";
    for (const RecordId& id : acknowledged) {
      ASSERT_TRUE(unique.count(id)) << "acknowledged record " << id.round << "/" << id.thread
                                    << "/" << id.seq << " was lost";
    }
    // Each writer's records are a gap-free prefix: it appended seq n+1 only after n.
    std::map<std::pair<uint32_t, uint32_t>, uint32_t> next_seq;
    for (const RecordId& id : unique) {
      if (id.thread >= 100) continue;  // the parent's own records
      uint32_t& expected = next_seq[{id.round, id.thread}];
      ASSERT_EQ(id.seq, expected) << "gap in writer " << id.round << "/" << id.thread;
      ++expected;
    }
    // The log takes new writes after the crash.
    const RecordId own{round, 100, 0};
    ORCH_ASSERT_OK(wal->Append(EncodeCrashRecord(own)).status());
    acknowledged.insert(own);
  }
  std::printf("crash test: %zu acknowledged records survived %u kills (%d torn tails cut)\n",
              acknowledged.size(), kRounds, torn_tails);
  EXPECT_GT(acknowledged.size(), kRounds * 2);
}

}  // namespace
}  // namespace orch::store::internal

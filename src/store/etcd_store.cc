#include "orch/store/etcd_store.h"

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>
#include <grpcpp/support/status.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <deque>
#include <fstream>
#include <functional>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "fmt/format.h"
#include "orch/base/mutex.h"
#include "orch/base/status.h"
#include "orch/store/etcd/rpc.grpc.pb.h"
#include "orch/store/keys.h"
#include "store/common.h"
#include "store/list_filter.h"

namespace orch::store {
namespace {

namespace pb = ::etcdserverpb;
namespace mvcc = ::mvccpb;

using internal::CheckKey;
using internal::CheckRevisionArgument;
using internal::HasPrefix;
using internal::KeyNotFound;
using internal::LeaseNotFound;

// How long a watcher keeps trying to resume on some member before Poll reports
// kUnavailable.
constexpr absl::Duration kWatchGiveUp = absl::Minutes(1);
// An Update or Delete without an expected revision reads, then writes on what it read;
// it starts over when another writer came in between, this many times at most.
constexpr int kUnconditionalAttempts = 100;
// While members answer at once that they have no leader, a call waits this long before
// asking the next, doubling up to the last (etcd elects within a few election timeouts).
constexpr absl::Duration kFirstElectionPause = absl::Milliseconds(25);
constexpr absl::Duration kLastElectionPause = absl::Milliseconds(400);

absl::Status FromGrpc(const grpc::Status& s) {
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()), s.error_message());
}

// What a failed call says about where to go next.
enum class Failure {
  kFinal,        // etcd answered with an error: the call's result
  kNotSent,      // the member was unreachable or had no leader: nothing was applied
  kUnknownFate,  // the member took the call and then failed or went silent
};

Failure Classify(const grpc::Status& s) {
  const std::string& message = s.error_message();
  switch (s.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
      if (absl::StrContains(message, "failed to connect") ||
          absl::StrContains(message, "Connection refused") ||
          absl::StrContains(message, "etcdserver: no leader")) {
        return Failure::kNotSent;
      }
      return Failure::kUnknownFate;
    case grpc::StatusCode::DEADLINE_EXCEEDED:
    case grpc::StatusCode::CANCELLED:
    case grpc::StatusCode::UNKNOWN:  // a stream reset by a dying member
      return Failure::kUnknownFate;
    default:
      // etcd's "leader changed" and "request timed out" come as UNAVAILABLE (above);
      // everything else is etcd's answer to the request.
      return Failure::kFinal;
  }
}

// "127.0.0.1:2379", "http://h:2379", "https://h:2379" -> the gRPC target "h:2379".
std::string Target(std::string_view endpoint) {
  for (std::string_view scheme : {"http://", "https://"}) {
    if (endpoint.substr(0, scheme.size()) == scheme) endpoint.remove_prefix(scheme.size());
  }
  while (!endpoint.empty() && endpoint.back() == '/') endpoint.remove_suffix(1);
  return std::string(endpoint);
}

absl::StatusOr<std::string> ReadPem(const std::string& path, std::string_view field) {
  std::ifstream in(path);
  if (!in) return absl::InvalidArgumentError(fmt::format("{}: cannot read \"{}\"", field, path));
  std::string pem(std::istreambuf_iterator<char>(in), {});
  // gRPC would take any bytes and fail every handshake later, with no word of which file.
  if (pem.find("-----BEGIN ") == std::string::npos) {
    return absl::InvalidArgumentError(
        fmt::format("{}: \"{}\" holds no PEM block (-----BEGIN ...)", field, path));
  }
  return pem;
}

KeyValue FromEtcd(const mvcc::KeyValue& kv, size_t prefix_size) {
  KeyValue out;
  out.key = kv.key().substr(std::min(prefix_size, kv.key().size()));
  out.value = SharedBytes(kv.value());
  out.create_revision = kv.create_revision();
  out.mod_revision = kv.mod_revision();
  out.version = kv.version();
  out.lease = kv.lease();
  return out;
}

pb::Compare ModRevisionIs(const std::string& key, int64_t revision) {
  pb::Compare compare;
  compare.set_result(pb::Compare::EQUAL);
  compare.set_target(pb::Compare::MOD);
  compare.set_key(key);
  compare.set_mod_revision(revision);
  return compare;
}

// A read of `key` as the failure branch of a Txn, to tell "missing" from "modified".
pb::RequestOp RangeOp(const std::string& key) {
  pb::RequestOp op;
  op.mutable_request_range()->set_key(key);
  return op;
}

// Put `value` (on `lease`) at `key` if its mod_revision is `revision` (0: it does not
// exist); otherwise read it, to tell "missing" from "modified".
pb::TxnRequest PutAt(const std::string& key, int64_t revision, std::string_view value,
                     LeaseId lease) {
  pb::TxnRequest txn;
  *txn.add_compare() = ModRevisionIs(key, revision);
  pb::PutRequest& put = *txn.add_success()->mutable_request_put();
  put.set_key(key);
  put.set_value(std::string(value));
  put.set_lease(lease);
  *txn.add_failure() = RangeOp(key);
  return txn;
}

// One member: its gRPC channel and a client of each etcd service on it.
struct Member {
  std::string endpoint;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<pb::KV::Stub> kv;
  std::unique_ptr<pb::Watch::Stub> watch;
  std::unique_ptr<pb::Lease::Stub> lease;
  std::unique_ptr<pb::Maintenance::Stub> maintenance;
  std::unique_ptr<pb::Auth::Stub> auth;
};

class EtcdStoreImpl;

// ---------------------------------------------------------------------------- watcher

// One watch: a thread reading one Watch stream, resuming on another member when it breaks.
class EtcdWatcher final : public Watcher {
 public:
  EtcdWatcher(EtcdStoreImpl* store, std::string prefix, int64_t start_revision);
  ~EtcdWatcher() override;

  // Starts the thread and waits until etcd has created the watch (or refused it).
  absl::Status Start(absl::Duration timeout);

  absl::Status Poll(std::vector<EventPtr>* events, size_t max) override;
  bool Wait(absl::Duration timeout) override;
  void SetReadyCallback(std::function<void()> callback) override;
  int64_t revision() const override {
    MutexLock lock(&mu_);
    return revision_;
  }

 private:
  void Run();
  // One stream on one member, until it breaks or the watcher stops. True once etcd
  // confirmed the watch on it.
  bool Stream(Member& member);
  void Deliver(const pb::WatchResponse& response);
  void Finish(absl::Status status);
  void NotifyReady();

  EtcdStoreImpl* const store_;
  const std::string prefix_;  // the store's prefix, without the etcd key prefix

  mutable Mutex mu_;
  std::deque<EventPtr> queue_ ABSL_GUARDED_BY(mu_);
  int64_t next_revision_ ABSL_GUARDED_BY(mu_);  // resume from here
  int64_t revision_ ABSL_GUARDED_BY(mu_);       // last polled
  bool created_ ABSL_GUARDED_BY(mu_) = false;   // etcd confirmed the first stream
  absl::Status final_ ABSL_GUARDED_BY(mu_);     // set when the watch is over
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool armed_ ABSL_GUARDED_BY(mu_) = true;       // tell the callback about the next event
  grpc::ClientContext* context_ ABSL_GUARDED_BY(mu_) = nullptr;
  Mutex callback_mu_;
  std::function<void()> callback_ ABSL_GUARDED_BY(callback_mu_);
  std::thread thread_;
};

// ---------------------------------------------------------------------------- store

class EtcdStoreImpl final : public EtcdStore {
 public:
  explicit EtcdStoreImpl(EtcdStoreOptions options) : options_(std::move(options)) {}

  ~EtcdStoreImpl() override {
    {
      MutexLock lock(&compactor_mu_);
      stopping_ = true;
    }
    if (compactor_.joinable()) compactor_.join();
  }

  absl::Status Init() {
    if (options_.endpoints.empty()) {
      return absl::InvalidArgumentError("endpoints: at least one etcd endpoint is required");
    }
    const std::string& prefix = options_.key_prefix;
    if (!prefix.empty() && (prefix.front() != '/' || prefix.back() == '/')) {
      return absl::InvalidArgumentError(fmt::format(
          "key_prefix: \"{}\" must start with '/' and not end with one", prefix));
    }
    if (options_.request_timeout <= absl::ZeroDuration()) {
      return absl::InvalidArgumentError("request_timeout: must be positive");
    }
    if (options_.list_chunk <= 0) return absl::InvalidArgumentError("list_chunk: must be positive");
    if (options_.compaction_interval < absl::ZeroDuration()) {
      return absl::InvalidArgumentError("compaction_interval: must not be negative");
    }
    if (options_.cert_file.empty() != options_.key_file.empty()) {
      return absl::InvalidArgumentError("cert_file, key_file: give both or neither");
    }
    if (!options_.cert_file.empty() && options_.ca_file.empty()) {
      return absl::InvalidArgumentError("ca_file: required with a client certificate");
    }
    std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials();
    if (!options_.ca_file.empty()) {
      grpc::SslCredentialsOptions ssl;
      ORCH_ASSIGN_OR_RETURN(ssl.pem_root_certs, ReadPem(options_.ca_file, "ca_file"));
      if (!options_.cert_file.empty()) {
        ORCH_ASSIGN_OR_RETURN(ssl.pem_cert_chain, ReadPem(options_.cert_file, "cert_file"));
        ORCH_ASSIGN_OR_RETURN(ssl.pem_private_key, ReadPem(options_.key_file, "key_file"));
      }
      credentials = grpc::SslCredentials(ssl);
    }
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(64 << 20);
    args.SetMaxSendMessageSize(8 << 20);
    // A member that comes back is found again within about a second.
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
    // A member that dies without closing its connections is noticed.
    args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 10000);
    args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 5000);
    args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
    for (const std::string& endpoint : options_.endpoints) {
      const std::string target = Target(endpoint);
      if (target.empty()) {
        return absl::InvalidArgumentError(fmt::format("endpoints: \"{}\" names no host", endpoint));
      }
      auto member = std::make_unique<Member>();
      member->endpoint = endpoint;
      member->channel = grpc::CreateCustomChannel(target, credentials, args);
      member->kv = pb::KV::NewStub(member->channel);
      member->watch = pb::Watch::NewStub(member->channel);
      member->lease = pb::Lease::NewStub(member->channel);
      member->maintenance = pb::Maintenance::NewStub(member->channel);
      member->auth = pb::Auth::NewStub(member->channel);
      members_.push_back(std::move(member));
    }
    if (!options_.username.empty()) ORCH_RETURN_IF_ERROR(Authenticate());
    // Some member must answer.
    ORCH_RETURN_IF_ERROR(CurrentRevision().status());
    if (options_.compaction_interval > absl::ZeroDuration()) {
      compactor_ = std::thread([this] { CompactLoop(); });
    }
    return absl::OkStatus();
  }

  std::string current_endpoint() const override { return members_[current_.load()]->endpoint; }

  // ------------------------------------------------------------------ KV

  absl::StatusOr<int64_t> Create(std::string_view key, SharedBytes value,
                                 LeaseId lease) override {
    ORCH_RETURN_IF_ERROR(CheckKey(key));
    ORCH_ASSIGN_OR_RETURN(pb::TxnResponse response,
                          Txn(PutAt(Full(key), 0, value, lease), key, lease));
    if (!response.succeeded()) {
      return absl::AlreadyExistsError(fmt::format("key \"{}\" already exists", key));
    }
    return response.header().revision();
  }

  absl::StatusOr<int64_t> Update(std::string_view key, SharedBytes value,
                                 int64_t expected_revision, LeaseId lease) override {
    ORCH_RETURN_IF_ERROR(CheckKey(key));
    ORCH_RETURN_IF_ERROR(CheckRevisionArgument(expected_revision, "expected_revision"));
    const std::string full = Full(key);
    return OnRevision(key, expected_revision, [&](int64_t on) -> absl::StatusOr<int64_t> {
      ORCH_ASSIGN_OR_RETURN(pb::TxnResponse response,
                            Txn(PutAt(full, on, value, lease), key, lease));
      if (response.succeeded()) return response.header().revision();
      return ConflictOf(key, on, response);
    });
  }

  absl::StatusOr<KeyValue> Delete(std::string_view key, int64_t expected_revision) override {
    ORCH_RETURN_IF_ERROR(CheckKey(key));
    ORCH_RETURN_IF_ERROR(CheckRevisionArgument(expected_revision, "expected_revision"));
    const std::string full = Full(key);
    KeyValue deleted;
    ORCH_RETURN_IF_ERROR(
        OnRevision(key, expected_revision, [&](int64_t on) -> absl::StatusOr<int64_t> {
          pb::TxnRequest txn;
          *txn.add_compare() = ModRevisionIs(full, on);
          pb::DeleteRangeRequest& del = *txn.add_success()->mutable_request_delete_range();
          del.set_key(full);
          del.set_prev_kv(true);
          *txn.add_failure() = RangeOp(full);
          ORCH_ASSIGN_OR_RETURN(pb::TxnResponse response, Txn(txn, key, 0));
          if (!response.succeeded()) return ConflictOf(key, on, response);
          const pb::DeleteRangeResponse& result = response.responses(0).response_delete_range();
          if (result.prev_kvs_size() == 1) deleted = FromEtcd(result.prev_kvs(0), Prefix().size());
          deleted.key = std::string(key);
          deleted.mod_revision = response.header().revision();
          return response.header().revision();
        })
            .status());
    return deleted;
  }

  absl::StatusOr<KeyValue> Get(std::string_view key, int64_t revision) override {
    ORCH_RETURN_IF_ERROR(CheckKey(key));
    ORCH_RETURN_IF_ERROR(CheckRevisionArgument(revision, "revision"));
    pb::RangeRequest request;
    request.set_key(Full(key));
    request.set_revision(revision);
    ORCH_ASSIGN_OR_RETURN(pb::RangeResponse response, Range(request));
    if (response.kvs_size() == 0) return KeyNotFound(key);
    return FromEtcd(response.kvs(0), Prefix().size());
  }

  absl::StatusOr<ListResult> List(std::string_view prefix, const ListOptions& options) override {
    if (options.limit < 0) return absl::InvalidArgumentError("limit: must not be negative");
    ORCH_RETURN_IF_ERROR(CheckRevisionArgument(options.revision, "revision"));
    ORCH_ASSIGN_OR_RETURN(internal::ListFilter filter, internal::ListFilter::Create(options));
    ORCH_ASSIGN_OR_RETURN(std::optional<internal::ContinueToken> token,
                          internal::ContinueFrom(prefix, options));
    ListResult result;
    result.revision = token ? token->revision : options.revision;
    std::string from = token ? Full(token->last_key) + '\0' : Full(prefix);
    const std::string end = PrefixEnd(Full(prefix));
    while (true) {
      pb::RangeRequest request;
      request.set_key(from);
      request.set_range_end(end);
      request.set_revision(result.revision);
      request.set_limit(options_.list_chunk);
      ORCH_ASSIGN_OR_RETURN(pb::RangeResponse response, Range(request));
      if (result.revision == 0) result.revision = response.header().revision();
      for (const mvcc::KeyValue& kv : response.kvs()) {
        if (!filter.Matches(kv.value())) continue;
        if (options.limit > 0 && result.items.size() == static_cast<size_t>(options.limit)) {
          result.continue_token =
              internal::EncodeContinueToken(result.revision, result.items.back().key);
          return result;
        }
        result.items.push_back(FromEtcd(kv, Prefix().size()));
      }
      if (!response.more() || response.kvs_size() == 0) return result;
      from = response.kvs(response.kvs_size() - 1).key() + '\0';
    }
  }

  absl::StatusOr<std::unique_ptr<Watcher>> Watch(std::string_view prefix,
                                                 const WatchOptions& options) override {
    ORCH_RETURN_IF_ERROR(
        CheckRevisionArgument(options.from_revision.value_or(0), "from_revision"));
    int64_t from = 0;
    if (!options.from_revision.has_value()) {
      ORCH_ASSIGN_OR_RETURN(from, CurrentRevision());
    } else if ((from = *options.from_revision) > 0) {
      // etcd would confirm a watch from a compacted revision and cancel it a moment
      // later; a read at that revision says so at once.
      pb::RangeRequest request;
      request.set_key(Full(prefix));
      request.set_count_only(true);
      request.set_revision(from);
      ORCH_RETURN_IF_ERROR(Range(request).status());
    }
    auto watcher = std::make_unique<EtcdWatcher>(this, std::string(prefix), from + 1);
    ORCH_RETURN_IF_ERROR(watcher->Start(options_.request_timeout *
                                        static_cast<double>(members_.size() + 1)));
    return watcher;
  }

  absl::StatusOr<int64_t> CurrentRevision() override {
    pb::RangeRequest request;
    request.set_key(Full("/"));
    request.set_count_only(true);
    ORCH_ASSIGN_OR_RETURN(pb::RangeResponse response, Range(request));
    return response.header().revision();
  }

  absl::Status Compact(int64_t revision) override {
    if (revision <= 0) return absl::InvalidArgumentError("revision: must be positive");
    pb::CompactionRequest request;
    request.set_revision(revision);
    pb::CompactionResponse response;
    absl::Status status = Invoke(Kind::kRead, [&](Member& m, grpc::ClientContext& context) {
      return m.kv->Compact(&context, request, &response);
    });
    if (absl::StrContains(status.message(), "required revision has been compacted")) {
      return absl::OkStatus();  // already compacted that far
    }
    return RevisionError(status, revision);
  }

  // ------------------------------------------------------------------ leases

  absl::StatusOr<LeaseId> GrantLease(absl::Duration ttl) override {
    if (ttl <= absl::ZeroDuration()) return absl::InvalidArgumentError("ttl: must be positive");
    pb::LeaseGrantRequest request;
    request.set_ttl(static_cast<int64_t>(std::ceil(absl::ToDoubleSeconds(ttl))));
    pb::LeaseGrantResponse response;
    ORCH_RETURN_IF_ERROR(Invoke(Kind::kWrite, [&](Member& m, grpc::ClientContext& context) {
      return m.lease->LeaseGrant(&context, request, &response);
    }));
    if (!response.error().empty()) return absl::UnavailableError(response.error());
    return response.id();
  }

  absl::Status KeepAlive(LeaseId lease) override {
    pb::LeaseKeepAliveRequest request;
    request.set_id(lease);
    pb::LeaseKeepAliveResponse response;
    ORCH_RETURN_IF_ERROR(Invoke(Kind::kRead, [&](Member& m, grpc::ClientContext& context) {
      auto stream = m.lease->LeaseKeepAlive(&context);
      if (stream->Write(request) && stream->Read(&response)) {
        context.TryCancel();  // the answer is in; do not wait for the server's end
        (void)stream->Finish();
        return grpc::Status::OK;
      }
      return stream->Finish();
    }));
    if (response.ttl() <= 0) return LeaseNotFound(lease);
    return absl::OkStatus();
  }

  absl::Status RevokeLease(LeaseId lease) override {
    pb::LeaseRevokeRequest request;
    request.set_id(lease);
    pb::LeaseRevokeResponse response;
    absl::Status status = Invoke(Kind::kWrite, [&](Member& m, grpc::ClientContext& context) {
      return m.lease->LeaseRevoke(&context, request, &response);
    });
    if (absl::IsNotFound(status)) return LeaseNotFound(lease);
    return status;
  }

  absl::StatusOr<absl::Duration> LeaseTimeToLive(LeaseId lease) override {
    pb::LeaseTimeToLiveRequest request;
    request.set_id(lease);
    pb::LeaseTimeToLiveResponse response;
    absl::Status status = Invoke(Kind::kRead, [&](Member& m, grpc::ClientContext& context) {
      return m.lease->LeaseTimeToLive(&context, request, &response);
    });
    if (absl::IsNotFound(status)) return LeaseNotFound(lease);
    ORCH_RETURN_IF_ERROR(status);
    if (response.ttl() < 0) return LeaseNotFound(lease);
    return absl::Seconds(response.ttl());
  }

  // ------------------------------------------------------------------ for the watcher

  const std::string& Prefix() const { return options_.key_prefix; }
  std::string Full(std::string_view key) const {
    std::string full = Prefix();
    full.append(key);
    return full;
  }
  size_t member_count() const { return members_.size(); }
  // The member calls go to now.
  Member& current() { return *members_[current_.load()]; }
  // `member` failed: later calls go to the next one (unless another call moved on already).
  void MoveOff(const Member& member) {
    for (size_t i = 0; i < members_.size(); ++i) {
      if (members_[i].get() != &member) continue;
      size_t expected = i;
      current_.compare_exchange_strong(expected, (i + 1) % members_.size());
    }
  }
  // Deadline and credentials of one call.
  void Prepare(grpc::ClientContext& context, std::optional<absl::Duration> timeout) {
    if (timeout.has_value()) context.set_deadline(absl::ToChronoTime(absl::Now() + *timeout));
    MutexLock lock(&token_mu_);
    if (!token_.empty()) context.AddMetadata("token", token_);
  }
  absl::Duration request_timeout() const { return options_.request_timeout; }

 private:
  enum class Kind { kRead, kWrite };

  // Runs `call(member, context)` on the current member, moving to the next one as the
  // class comment says. `call` must be repeatable (fresh response each time).
  template <typename Call>
  absl::Status Invoke(Kind kind, Call call) {
    std::vector<std::string> failures;
    bool reauthenticated = false;
    bool silent = false;  // a member took the call and did not answer within the timeout
    const size_t n = members_.size();
    const size_t start = current_.load();
    // Round one fails fast on members the channel knows are down. Unless a member was
    // silent (round one has had its timeouts then), round two goes on around the members
    // for one more request_timeout: it waits for a member to come back (a share of the
    // timeout each), and pauses between answers while the members elect a leader. So a
    // cluster that has just restarted, or lost its leader, is found without an error.
    absl::Time patience_ends = absl::InfiniteFuture();
    absl::Duration pause = kFirstElectionPause;
    for (size_t attempt = 0;; ++attempt) {
      const bool patient = attempt >= n;
      if (patient) {
        if (silent) break;
        if (attempt == n) patience_ends = absl::Now() + options_.request_timeout;
        if (absl::Now() >= patience_ends) break;
      }
      Member& member = *members_[(start + attempt) % n];
      const absl::Time called = absl::Now();
      grpc::Status status;
      {
        grpc::ClientContext context;
        Prepare(context, patient ? std::min(options_.request_timeout / static_cast<double>(n),
                                            patience_ends - called)
                                 : options_.request_timeout);
        context.set_wait_for_ready(patient);
        status = call(member, context);
      }
      if (status.ok()) return absl::OkStatus();
      if (status.error_code() == grpc::StatusCode::UNAUTHENTICATED && !options_.username.empty() &&
          !reauthenticated) {
        // The token expired: a new one, and the same member again.
        reauthenticated = true;
        ORCH_RETURN_IF_ERROR(Authenticate());
        --attempt;
        continue;
      }
      const Failure failure = Classify(status);
      if (failure == Failure::kFinal) return FromGrpc(status);
      MoveOff(member);
      if (!patient) {
        failures.push_back(fmt::format("{}: {}", member.endpoint, status.error_message()));
        silent |= status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED;
      }
      if (kind == Kind::kWrite && failure == Failure::kUnknownFate) {
        return absl::UnavailableError(fmt::format(
            "etcd member {} failed during a write ({}); it may or may not have been applied: "
            "re-read and retry",
            member.endpoint, status.error_message()));
      }
      if (patient && absl::Now() - called < pause) {
        // The member answered at once ("leader changed", "no leader"): give the election
        // time before asking the next.
        absl::SleepFor(std::min(pause, patience_ends - absl::Now()));
        pause = std::min(2 * pause, kLastElectionPause);
      }
    }
    // How this client connects: a member that wants TLS (or a client certificate) and is
    // not given it closes the connection, and gRPC says no more than that.
    const char* security = options_.ca_file.empty()     ? "plain text"
                           : options_.cert_file.empty() ? "TLS without a client certificate"
                                                        : "TLS with a client certificate";
    return absl::UnavailableError(fmt::format("etcd is unreachable over {}: {}", security,
                                              absl::StrJoin(failures, "; ")));
  }

  absl::StatusOr<pb::RangeResponse> Range(const pb::RangeRequest& request) {
    pb::RangeResponse response;
    absl::Status status = Invoke(Kind::kRead, [&](Member& m, grpc::ClientContext& context) {
      response.Clear();
      return m.kv->Range(&context, request, &response);
    });
    if (!status.ok()) return RevisionError(status, request.revision());
    return response;
  }

  // A Txn for the write of `key` (with `lease`), its errors in the Store's words.
  absl::StatusOr<pb::TxnResponse> Txn(const pb::TxnRequest& request, std::string_view key,
                                      LeaseId lease) {
    pb::TxnResponse response;
    absl::Status status = Invoke(Kind::kWrite, [&](Member& m, grpc::ClientContext& context) {
      response.Clear();
      return m.kv->Txn(&context, request, &response);
    });
    if (absl::IsNotFound(status) && lease != 0) return LeaseNotFound(lease);
    if (!status.ok()) {
      return absl::Status(status.code(), fmt::format("write of key \"{}\": {}", key,
                                                     std::string(status.message())));
    }
    return response;
  }

  // An Update or Delete at `expected` (or, when 0, at whatever revision the key has).
  absl::StatusOr<int64_t> OnRevision(
      std::string_view key, int64_t expected,
      const std::function<absl::StatusOr<int64_t>(int64_t)>& write) {
    if (expected != 0) return write(expected);
    for (int attempt = 0; attempt < kUnconditionalAttempts; ++attempt) {
      ORCH_ASSIGN_OR_RETURN(KeyValue current, Get(key, 0));
      absl::StatusOr<int64_t> written = write(current.mod_revision);
      if (!absl::IsAborted(written.status())) return written;
    }
    return absl::AbortedError(fmt::format(
        "key \"{}\" changed under {} writes in a row; retry", key, kUnconditionalAttempts));
  }

  // Why a Txn comparing mod_revision == `expected` failed: the failure branch read the key.
  static absl::Status ConflictOf(std::string_view key, int64_t expected,
                                 const pb::TxnResponse& response) {
    const pb::RangeResponse& read = response.responses(0).response_range();
    if (read.kvs_size() == 0) return KeyNotFound(key);
    return internal::RevisionConflict(key, expected, read.kvs(0).mod_revision());
  }

  // etcd's revision errors in the Store's codes.
  static absl::Status RevisionError(const absl::Status& status, int64_t revision) {
    if (absl::StrContains(status.message(), "required revision has been compacted")) {
      return absl::OutOfRangeError(fmt::format("revision {} has been compacted", revision));
    }
    if (absl::StrContains(status.message(), "required revision is a future revision")) {
      return absl::InvalidArgumentError(
          fmt::format("revision {} is newer than the current revision", revision));
    }
    return status;
  }

  absl::Status Authenticate() {
    pb::AuthenticateRequest request;
    request.set_name(options_.username);
    request.set_password(options_.password);
    pb::AuthenticateResponse response;
    {
      MutexLock lock(&token_mu_);
      token_.clear();
    }
    ORCH_RETURN_IF_ERROR(Invoke(Kind::kRead, [&](Member& m, grpc::ClientContext& context) {
      return m.auth->Authenticate(&context, request, &response);
    }));
    MutexLock lock(&token_mu_);
    token_ = response.token();
    return absl::OkStatus();
  }

  // Kubernetes' compactor: per interval, whoever bumps the version of the shared key
  // compacts to the revision it saw when it last bumped it.
  void CompactLoop() {
    const std::string key = Full("/compact_rev_key");
    int64_t version = 0;        // the key's version as this instance last knew it
    int64_t last_revision = 0;  // the store's revision at this instance's last bump
    while (true) {
      {
        MutexLock lock(&compactor_mu_);
        auto stop = [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return stopping_; };
        if (compactor_mu_.AwaitWithTimeout(
                absl::Condition(+[](decltype(stop)* f) { return (*f)(); }, &stop),
                options_.compaction_interval)) {
          return;
        }
      }
      pb::TxnRequest txn;
      pb::Compare& compare = *txn.add_compare();
      compare.set_result(pb::Compare::EQUAL);
      compare.set_target(pb::Compare::VERSION);
      compare.set_key(key);
      compare.set_version(version);
      pb::PutRequest& put = *txn.add_success()->mutable_request_put();
      put.set_key(key);
      put.set_value(std::to_string(last_revision));
      *txn.add_failure() = RangeOp(key);
      absl::StatusOr<pb::TxnResponse> response = Txn(txn, "/compact_rev_key", 0);
      if (!response.ok()) continue;
      if (!response->succeeded()) {
        const pb::RangeResponse& read = response->responses(0).response_range();
        version = read.kvs_size() == 0 ? 0 : read.kvs(0).version();
        continue;
      }
      ++version;
      if (last_revision > 0) (void)Compact(last_revision);
      last_revision = response->header().revision();
    }
  }

  const EtcdStoreOptions options_;
  std::vector<std::unique_ptr<Member>> members_;
  std::atomic<size_t> current_{0};
  Mutex token_mu_;
  std::string token_ ABSL_GUARDED_BY(token_mu_);
  Mutex compactor_mu_;
  bool stopping_ ABSL_GUARDED_BY(compactor_mu_) = false;
  std::thread compactor_;
};

// ---------------------------------------------------------------------------- watcher

EtcdWatcher::EtcdWatcher(EtcdStoreImpl* store, std::string prefix, int64_t start_revision)
    : store_(store),
      prefix_(std::move(prefix)),
      next_revision_(start_revision),
      revision_(start_revision - 1) {}

EtcdWatcher::~EtcdWatcher() {
  {
    MutexLock lock(&mu_);
    stopping_ = true;
    if (context_ != nullptr) context_->TryCancel();
  }
  if (thread_.joinable()) thread_.join();
}

absl::Status EtcdWatcher::Start(absl::Duration timeout) {
  thread_ = std::thread([this] { Run(); });
  const absl::Time deadline = absl::Now() + timeout;
  MutexLock lock(&mu_);
  auto settled = [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return created_ || !final_.ok(); };
  const absl::Condition condition(+[](decltype(settled)* f) { return (*f)(); }, &settled);
  // A member that does not confirm within the request timeout (frozen, say) is left for
  // the next: cancelling its stream makes Run move on.
  while (!mu_.AwaitWithTimeout(condition, store_->request_timeout())) {
    if (absl::Now() >= deadline) {
      return absl::UnavailableError(fmt::format("etcd did not confirm a watch of \"{}\" within {}",
                                                prefix_, absl::FormatDuration(timeout)));
    }
    if (context_ != nullptr) context_->TryCancel();
  }
  return final_;
}

void EtcdWatcher::Run() {
  absl::Duration backoff = absl::Milliseconds(100);
  absl::Time failing_since = absl::InfinitePast();
  while (true) {
    Member& member = store_->current();
    const bool confirmed = Stream(member);
    {
      MutexLock lock(&mu_);
      if (stopping_ || !final_.ok()) return;
    }
    store_->MoveOff(member);
    const absl::Time now = absl::Now();
    if (confirmed) {
      backoff = absl::Milliseconds(100);
      failing_since = now;
    } else if (failing_since == absl::InfinitePast()) {
      failing_since = now;
    }
    if (now - failing_since > kWatchGiveUp) {
      return Finish(absl::UnavailableError(fmt::format(
          "watch of \"{}\": no etcd member took it for {}", prefix_,
          absl::FormatDuration(kWatchGiveUp))));
    }
    MutexLock lock(&mu_);
    auto stop = [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return stopping_; };
    if (mu_.AwaitWithTimeout(absl::Condition(+[](decltype(stop)* f) { return (*f)(); }, &stop),
                             backoff)) {
      return;
    }
    backoff = std::min(backoff * 2, absl::Seconds(1));
  }
}

bool EtcdWatcher::Stream(Member& member) {
  grpc::ClientContext context;
  store_->Prepare(context, std::nullopt);
  // A member cut off from the others ends the stream instead of going quiet.
  context.AddMetadata("hasleader", "true");
  pb::WatchRequest request;
  pb::WatchCreateRequest& create = *request.mutable_create_request();
  create.set_key(store_->Full(prefix_));
  create.set_range_end(PrefixEnd(store_->Full(prefix_)));
  create.set_progress_notify(true);
  create.set_prev_kv(true);
  {
    MutexLock lock(&mu_);
    if (stopping_) return false;
    create.set_start_revision(next_revision_);
    context_ = &context;
  }
  bool confirmed = false;
  auto stream = member.watch->Watch(&context);
  if (stream->Write(request)) {
    pb::WatchResponse response;
    // A member that goes silent is noticed by the channel's keepalive pings.
    while (stream->Read(&response)) {
      if (response.created()) {
        confirmed = true;
        MutexLock lock(&mu_);
        created_ = true;
      }
      if (response.canceled()) {
        if (response.compact_revision() > 0) {
          Finish(absl::OutOfRangeError(fmt::format(
              "watch of \"{}\": revision {} has been compacted (history starts at {})", prefix_,
              create.start_revision(), response.compact_revision())));
        }
        break;  // otherwise (no leader, ...): resume elsewhere
      }
      Deliver(response);
    }
  }
  context.TryCancel();
  (void)stream->Finish();
  MutexLock lock(&mu_);
  context_ = nullptr;
  return confirmed;
}

void EtcdWatcher::Deliver(const pb::WatchResponse& response) {
  if (response.events_size() == 0) return;  // a progress notification
  const size_t prefix_size = store_->Prefix().size();
  bool notify = false;
  {
    MutexLock lock(&mu_);
    // Events of one revision (a lease's keys) come together, all at or past this.
    const int64_t resume = next_revision_;
    for (const mvcc::Event& e : response.events()) {
      if (e.kv().mod_revision() < resume) continue;  // delivered before a resume
      auto event = std::make_shared<Event>();
      event->type = e.type() == mvcc::Event::DELETE ? Event::Type::kDelete : Event::Type::kPut;
      event->kv = FromEtcd(e.kv(), prefix_size);
      if (e.has_prev_kv()) event->prev_kv = FromEtcd(e.prev_kv(), prefix_size);
      if (event->type == Event::Type::kDelete) event->kv.value = SharedBytes();
      next_revision_ = e.kv().mod_revision() + 1;
      queue_.push_back(std::move(event));
    }
    notify = armed_ && !queue_.empty();
    if (notify) armed_ = false;
  }
  if (notify) NotifyReady();
}

void EtcdWatcher::Finish(absl::Status status) {
  bool notify = false;
  {
    MutexLock lock(&mu_);
    if (!final_.ok()) return;
    final_ = std::move(status);
    notify = armed_;
    armed_ = false;
  }
  if (notify) NotifyReady();
}

void EtcdWatcher::NotifyReady() {
  MutexLock lock(&callback_mu_);
  if (callback_) callback_();
}

absl::Status EtcdWatcher::Poll(std::vector<EventPtr>* events, size_t max) {
  MutexLock lock(&mu_);
  size_t taken = 0;
  while (!queue_.empty() && taken < max) {
    revision_ = queue_.front()->kv.mod_revision;
    events->push_back(std::move(queue_.front()));
    queue_.pop_front();
    ++taken;
  }
  if (queue_.empty()) armed_ = true;
  if (taken == 0 && !final_.ok()) return final_;
  return absl::OkStatus();
}

bool EtcdWatcher::Wait(absl::Duration timeout) {
  MutexLock lock(&mu_);
  auto pending = [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
    return !queue_.empty() || !final_.ok();
  };
  return mu_.AwaitWithTimeout(
      absl::Condition(+[](decltype(pending)* f) { return (*f)(); }, &pending), timeout);
}

void EtcdWatcher::SetReadyCallback(std::function<void()> callback) {
  bool pending = false;
  {
    MutexLock lock(&callback_mu_);
    callback_ = std::move(callback);
  }
  {
    MutexLock lock(&mu_);
    pending = !queue_.empty() || !final_.ok();
    if (pending) armed_ = false;
  }
  if (pending) NotifyReady();
}

}  // namespace

absl::StatusOr<std::unique_ptr<EtcdStore>> EtcdStore::Connect(EtcdStoreOptions options) {
  auto store = std::make_unique<EtcdStoreImpl>(std::move(options));
  ORCH_RETURN_IF_ERROR(store->Init());
  return store;
}

}  // namespace orch::store

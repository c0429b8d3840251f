#include "orch/testing/fault_store.h"

#include <algorithm>
#include <utility>

#include "fmt/format.h"
#include "orch/base/status.h"

namespace orch::testing {

namespace {

constexpr std::string_view kOpNames[] = {"create", "update", "delete", "get", "list", "watch"};

bool Under(std::string_view key, std::string_view prefix) {
  return key.substr(0, prefix.size()) == prefix;
}

}  // namespace

// Forwards to the target's watcher unless held (delivers nothing) or broken (fails with
// the break's status, and stays failed: the consumer must watch again).
class FaultStore::FaultyWatcher : public store::Watcher {
 public:
  FaultyWatcher(FaultStore* store, std::string prefix, std::unique_ptr<store::Watcher> inner)
      : store_(store), prefix_(std::move(prefix)), inner_(std::move(inner)) {}
  ~FaultyWatcher() override {
    store_->Forget(this);
    inner_.reset();
  }

  absl::Status Poll(std::vector<store::EventPtr>* events, size_t max) override {
    {
      MutexLock lock(&store_->mu_);
      if (!broken_.ok()) return broken_;
    }
    if (store_->Held(prefix_)) return absl::OkStatus();
    return inner_->Poll(events, max);
  }
  bool Wait(absl::Duration timeout) override { return inner_->Wait(timeout); }
  void SetReadyCallback(std::function<void()> callback) override {
    {
      MutexLock lock(&store_->mu_);
      callback_ = callback;
    }
    inner_->SetReadyCallback(std::move(callback));
  }
  int64_t revision() const override { return inner_->revision(); }

  const std::string& prefix() const { return prefix_; }
  // Both called with the store's lock held.
  void Break(absl::Status status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(store_->mu_) {
    if (broken_.ok()) broken_ = std::move(status);
  }
  std::function<void()> callback() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(store_->mu_) {
    return callback_;
  }

 private:
  FaultStore* const store_;
  const std::string prefix_;
  std::unique_ptr<store::Watcher> inner_;
  absl::Status broken_ ABSL_GUARDED_BY(store_->mu_);
  std::function<void()> callback_ ABSL_GUARDED_BY(store_->mu_);
};

FaultStore::FaultStore(store::Store* target, FaultStoreOptions options)
    : StoreWrapper(target), rng_(options.seed) {}

FaultStore::~FaultStore() = default;

void FaultStore::SetRandomFaults(RandomFaults faults) {
  MutexLock lock(&mu_);
  random_ = std::move(faults);
}

void FaultStore::FailNext(Op op, std::string prefix, int count, absl::Status status) {
  if (status.ok() || count <= 0) return;
  MutexLock lock(&mu_);
  rules_.push_back(Rule{op, std::move(prefix), count, std::move(status)});
}

void FaultStore::Before(Op op, std::string key, std::function<void()> hook) {
  MutexLock lock(&mu_);
  hooks_.push_back(Hook{op, std::move(key), std::move(hook)});
}

void FaultStore::ClearFaults() {
  MutexLock lock(&mu_);
  random_ = RandomFaults{};
  rules_.clear();
  hooks_.clear();
}

void FaultStore::HoldWatches(std::string prefix) {
  MutexLock lock(&mu_);
  holding_ = true;
  hold_prefix_ = std::move(prefix);
}

void FaultStore::ReleaseWatches() {
  std::vector<std::function<void()>> wake;
  {
    MutexLock lock(&mu_);
    if (!holding_) return;
    holding_ = false;
    for (FaultyWatcher* watcher : watchers_) {
      if (Under(watcher->prefix(), hold_prefix_) && watcher->callback()) {
        wake.push_back(watcher->callback());
      }
    }
  }
  for (const auto& callback : wake) callback();
}

void FaultStore::BreakWatches(absl::Status status) {
  if (status.ok()) return;
  std::vector<std::function<void()>> wake;
  {
    MutexLock lock(&mu_);
    for (FaultyWatcher* watcher : watchers_) {
      watcher->Break(status);
      if (watcher->callback()) wake.push_back(watcher->callback());
    }
  }
  for (const auto& callback : wake) callback();
}

int FaultStore::Succeeded(Op op, std::string_view prefix) const {
  MutexLock lock(&mu_);
  int total = 0;
  for (auto it = succeeded_[static_cast<int>(op)].lower_bound(std::string(prefix));
       it != succeeded_[static_cast<int>(op)].end() && Under(it->first, prefix); ++it) {
    total += it->second;
  }
  return total;
}

std::map<std::string, int> FaultStore::SucceededByKey(Op op) const {
  MutexLock lock(&mu_);
  return succeeded_[static_cast<int>(op)];
}

int FaultStore::Injected() const {
  MutexLock lock(&mu_);
  return injected_;
}

absl::Status FaultStore::Check(Op op, std::string_view key) {
  std::function<void()> hook;
  {
    MutexLock lock(&mu_);
    for (auto it = rules_.begin(); it != rules_.end(); ++it) {
      if (it->op != op || !Under(key, it->prefix)) continue;
      absl::Status status = it->status;
      if (--it->remaining == 0) rules_.erase(it);
      ++injected_;
      return status;
    }
    if (Under(key, random_.prefix)) {
      std::uniform_real_distribution<double> uniform(0, 1);
      if (random_.unavailable_rate > 0 && uniform(rng_) < random_.unavailable_rate) {
        ++injected_;
        return absl::UnavailableError(
            fmt::format("injected fault: {} {}: the store is unavailable", kOpNames[int(op)], key));
      }
      const bool conflicts = op == Op::kUpdate || op == Op::kDelete;
      if (conflicts && random_.conflict_rate > 0 && uniform(rng_) < random_.conflict_rate) {
        ++injected_;
        return absl::AbortedError(fmt::format(
            "injected fault: {} {}: the object has been modified", kOpNames[int(op)], key));
      }
    }
    auto it = std::find_if(hooks_.begin(), hooks_.end(),
                           [&](const Hook& h) { return h.op == op && h.key == key; });
    if (it != hooks_.end()) {
      hook = std::move(it->run);
      hooks_.erase(it);
    }
  }
  if (hook) hook();
  return absl::OkStatus();
}

void FaultStore::Count(Op op, std::string_view key) {
  MutexLock lock(&mu_);
  ++succeeded_[static_cast<int>(op)][std::string(key)];
}

bool FaultStore::Held(const std::string& watch_prefix) const {
  MutexLock lock(&mu_);
  return holding_ && Under(watch_prefix, hold_prefix_);
}

void FaultStore::Forget(FaultyWatcher* watcher) {
  MutexLock lock(&mu_);
  watchers_.erase(std::remove(watchers_.begin(), watchers_.end(), watcher), watchers_.end());
}

absl::StatusOr<int64_t> FaultStore::Create(std::string_view key, store::SharedBytes value,
                                           store::LeaseId lease) {
  return Forward(Op::kCreate, key, [&] { return StoreWrapper::Create(key, value, lease); });
}

absl::StatusOr<int64_t> FaultStore::Update(std::string_view key, store::SharedBytes value,
                                           int64_t expected_revision, store::LeaseId lease) {
  return Forward(Op::kUpdate, key,
                 [&] { return StoreWrapper::Update(key, value, expected_revision, lease); });
}

absl::StatusOr<store::KeyValue> FaultStore::Delete(std::string_view key,
                                                   int64_t expected_revision) {
  return Forward(Op::kDelete, key, [&] { return StoreWrapper::Delete(key, expected_revision); });
}

absl::StatusOr<store::KeyValue> FaultStore::Get(std::string_view key, int64_t revision) {
  return Forward(Op::kGet, key, [&] { return StoreWrapper::Get(key, revision); });
}

absl::StatusOr<store::ListResult> FaultStore::List(std::string_view prefix,
                                                   const store::ListOptions& options) {
  return Forward(Op::kList, prefix, [&] { return StoreWrapper::List(prefix, options); });
}

absl::StatusOr<std::unique_ptr<store::Watcher>> FaultStore::Watch(
    std::string_view prefix, const store::WatchOptions& options) {
  ORCH_ASSIGN_OR_RETURN(std::unique_ptr<store::Watcher> inner,
                        Forward(Op::kWatch, prefix,
                                [&] { return StoreWrapper::Watch(prefix, options); }));
  auto watcher = std::make_unique<FaultyWatcher>(this, std::string(prefix), std::move(inner));
  MutexLock lock(&mu_);
  watchers_.push_back(watcher.get());
  return std::unique_ptr<store::Watcher>(std::move(watcher));
}

}  // namespace orch::testing

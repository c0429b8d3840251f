// NodeMemo: per-node values a plugin remembers across scheduling cycles, so that a
// PreFilter or PreScore that would walk every pod of the cluster for each pod scheduled
// recomputes only the nodes that changed since it last asked.
//
// A value is a pure function of a query and a node's state. The query is a string the
// plugin builds to hold everything else the value depends on (a namespace and a selector,
// a pod's signature). A node's state is named by its NodeInfo generation, which never
// repeats in the process; an entry is used only while the generation it was computed at
// is still the node's, so a remembered value is always the one recomputing would give.
//
// A query is remembered from its second use, so one-off queries (a heterogeneous workload)
// pay nothing. At most `max_queries` queries are kept (the least recently used goes
// first); a query's table is cleared when it holds entries for more than twice as many
// nodes as the cluster has (nodes that went away, preemption's copies).
//
// Thread-safe: a Lookup holds the memo's lock for its lifetime (one PreFilter's loop);
// plugins may be called from concurrent profiles or a binding cycle.
#ifndef ORCH_SRC_SCHEDULER_PLUGINS_NODE_MEMO_H_
#define ORCH_SRC_SCHEDULER_PLUGINS_NODE_MEMO_H_

#include <cstdint>
#include <list>
#include <string>
#include <string_view>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "orch/base/mutex.h"
#include "orch/base/string_map.h"
#include "orch/scheduler/node_info.h"

namespace orch::scheduler::plugins {

template <typename Value>
class NodeMemo {
 public:
  explicit NodeMemo(size_t max_queries = 16) : max_queries_(max_queries) {}
  NodeMemo(const NodeMemo&) = delete;
  NodeMemo& operator=(const NodeMemo&) = delete;

  class Lookup {
   public:
    Lookup(const Lookup&) = delete;
    Lookup& operator=(const Lookup&) = delete;
    ~Lookup() { memo_.mu_.Unlock(); }

    // The value for `node`: the remembered one while the node's state is unchanged,
    // otherwise compute(node) (remembered when the query is).
    template <typename Compute>
    Value Get(const NodeInfo& node, Compute&& compute) {
      if (table_ == nullptr) return compute(node);
      auto [it, inserted] = table_->try_emplace(&node);
      if (inserted || it->second.first != node.generation()) {
        it->second = {node.generation(), compute(node)};
      }
      return it->second.second;
    }

   private:
    friend class NodeMemo;
    Lookup(NodeMemo& memo, const std::string_view* query, size_t nodes) : memo_(memo) {
      memo_.mu_.Lock();
      if (query != nullptr) table_ = memo_.TableFor(*query, nodes);
    }

    NodeMemo& memo_;
    absl::flat_hash_map<const NodeInfo*, std::pair<int64_t, Value>>* table_ = nullptr;
  };

  // Starts a lookup for `query` in a cluster of `nodes` nodes.
  Lookup Begin(std::string_view query, size_t nodes) { return Lookup(*this, &query, nodes); }
  // A lookup that remembers nothing: every Get computes (for a query that cannot be named).
  Lookup Uncached() { return Lookup(*this, nullptr, 0); }

 private:
  using Table = absl::flat_hash_map<const NodeInfo*, std::pair<int64_t, Value>>;
  struct Query {
    Table table;
    typename std::list<std::string>::iterator lru;
  };

  // The query's table, or nullptr on its first sighting.
  Table* TableFor(std::string_view query, size_t nodes) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto found = queries_.find(query);
    if (found != queries_.end()) {
      lru_.splice(lru_.begin(), lru_, found->second.lru);
      if (found->second.table.size() > 2 * nodes) found->second.table.clear();
      return &found->second.table;
    }
    if (seen_once_.erase(query) == 0) {
      seen_once_.emplace(query);
      if (seen_once_.size() > 4 * max_queries_) seen_once_.clear();
      return nullptr;
    }
    if (queries_.size() >= max_queries_) {
      queries_.erase(lru_.back());
      lru_.pop_back();
    }
    lru_.emplace_front(query);
    Query& q = queries_[query];
    q.lru = lru_.begin();
    return &q.table;
  }

  const size_t max_queries_;
  Mutex mu_;
  StringMap<Query> queries_ ABSL_GUARDED_BY(mu_);
  std::list<std::string> lru_ ABSL_GUARDED_BY(mu_);
  StringSet seen_once_ ABSL_GUARDED_BY(mu_);
};

}  // namespace orch::scheduler::plugins

#endif  // ORCH_SRC_SCHEDULER_PLUGINS_NODE_MEMO_H_

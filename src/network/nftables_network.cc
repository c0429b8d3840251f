#include "orch/network/nftables_network.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "base/subprocess.h"
#include "fmt/format.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "orch/base/status.h"

namespace orch::network {

namespace {

// The table's fixed part: the maps every Service port is an element of, and the chains
// that hook them into the kernel's paths.
constexpr std::string_view kServiceIps = "service-ips";
constexpr std::string_view kServiceNodePorts = "service-nodeports";
constexpr std::string_view kNoEndpointServices = "no-endpoint-services";
constexpr std::string_view kNoEndpointNodePorts = "no-endpoint-nodeports";
constexpr std::string_view kRejectChain = "reject-chain";

constexpr std::string_view kIpKey = "ipv4_addr . inet_proto . inet_service";
constexpr std::string_view kPortKey = "inet_proto . inet_service";

struct FixedChain {
  std::string_view name;
  std::string_view hook;  // "" for a chain that is only jumped to
  std::vector<std::string_view> rules;  // "{mark}" stands for the masquerade mark
};

const std::vector<FixedChain>& FixedChains() {
  static const auto* chains = new std::vector<FixedChain>{
      {"nat-prerouting", "type nat hook prerouting priority -100", {"jump services"}},
      {"nat-output", "type nat hook output priority -100", {"jump services"}},
      {"nat-postrouting", "type nat hook postrouting priority 100", {"jump masquerading"}},
      {"filter-input",
       "type filter hook input priority -10",
       {"ct state new jump endpoints-check"}},
      {"filter-forward",
       "type filter hook forward priority -10",
       {"ct state new jump endpoints-check"}},
      {"filter-output",
       "type filter hook output priority -10",
       {"ct state new jump endpoints-check"}},
      {"services",
       "",
       {"ip daddr . meta l4proto . th dport vmap @service-ips",
        "fib daddr type local ip daddr != 127.0.0.0/8 meta l4proto . th dport vmap "
        "@service-nodeports"}},
      {"endpoints-check",
       "",
       {"ip daddr . meta l4proto . th dport vmap @no-endpoint-services",
        "fib daddr type local ip daddr != 127.0.0.0/8 meta l4proto . th dport vmap "
        "@no-endpoint-nodeports"}},
      {"mark-for-masquerade", "", {"meta mark set meta mark | {mark}"}},
      {"masquerading",
       "",
       {"meta mark & {mark} == 0 return", "meta mark set meta mark ^ {mark}",
        "masquerade fully-random"}},
      {kRejectChain, "", {"reject"}},
  };
  return *chains;
}

const std::vector<std::pair<std::string_view, std::string_view>>& FixedMaps() {
  static const auto* maps = new std::vector<std::pair<std::string_view, std::string_view>>{
      {kServiceIps, kIpKey},
      {kServiceNodePorts, kPortKey},
      {kNoEndpointServices, kIpKey},
      {kNoEndpointNodePorts, kPortKey},
  };
  return *maps;
}

// The Service ("ns/name") a chain or set of ours belongs to, from its name
// ("service-NS/NAME/tcp/80", "endpoint-NS/NAME/tcp/80__10.64.0.2/8080"); "" for the fixed
// part.
std::string OwnerOf(std::string_view object) {
  const size_t dash = object.find('-');
  if (dash == std::string_view::npos) return "";
  std::string_view rest = object.substr(dash + 1);
  const size_t first = rest.find('/');
  if (first == std::string_view::npos) return "";
  const size_t second = rest.find('/', first + 1);
  return std::string(rest.substr(0, second));
}

// What one Service wants in the table: its objects (chains, sets, elements) and the rules
// of its chains.
using Objects = internal::NftablesObjects;

struct Plan {
  Objects objects;
  std::vector<std::pair<std::string, std::string>> rules;  // (chain, rule), in order
  std::string comment;                                     // "ns/name"
};
// What a change wants, by Service ("ns/name"): a plan, or nullopt for nothing left.
using Plans = std::map<std::string, std::optional<Plan>>;

Plan PlanFor(const ServiceRule& rule, const std::optional<IPv4Cidr>& cluster_cidr) {
  Plan plan;
  Objects& objects = plan.objects;
  plan.comment = ServiceName(rule.ns, rule.name);
  if (rule.cluster_ip == "None") return plan;
  const bool affinity = rule.session_affinity == "ClientIP";
  for (const ServicePortRule& port : rule.ports) {
    const std::string proto = absl::AsciiStrToLower(port.protocol);
    const std::string base = fmt::format("{}/{}/{}/{}", rule.ns, rule.name, proto, port.port);
    const std::string ip_key = fmt::format("{} . {} . {}", rule.cluster_ip, proto, port.port);
    const std::string port_key = fmt::format("{} . {}", proto, port.node_port);
    const std::vector<const Backend*> candidates = CandidateBackends(port);
    if (candidates.empty()) {
      const std::string reject = fmt::format(" : goto {}", kRejectChain);
      objects.elements[std::string(kNoEndpointServices)].insert(ip_key + reject);
      if (port.node_port != 0) {
        objects.elements[std::string(kNoEndpointNodePorts)].insert(port_key + reject);
      }
      continue;
    }
    const std::string service = "service-" + base;
    objects.chains.insert(service);
    objects.elements[std::string(kServiceIps)].insert(fmt::format("{} : goto {}", ip_key, service));
    plan.rules.emplace_back(service, cluster_cidr.has_value()
                                         ? fmt::format("ip saddr != {} jump mark-for-masquerade",
                                                       cluster_cidr->ToString())
                                         : "jump mark-for-masquerade");
    // Hairpin: an endpoint reaching its own Service may land on itself, and answers itself
    // only through the node when masqueraded.
    std::set<std::string> addresses;
    for (const Backend* b : candidates) addresses.insert(b->address);
    plan.rules.emplace_back(service, fmt::format("ip saddr {{ {} }} jump mark-for-masquerade",
                                                 absl::StrJoin(addresses, ", ")));
    if (!affinity) {
      // The endpoint picked at random by one rule, with no chain per endpoint: a small
      // transaction's cost grows with the chains nft must read back.
      std::vector<std::string> arms;
      for (size_t i = 0; i < candidates.size(); ++i) {
        arms.push_back(fmt::format("{} : {} . {}", i, candidates[i]->address, candidates[i]->port));
      }
      plan.rules.emplace_back(
          service, candidates.size() == 1
                       ? fmt::format("meta l4proto {} dnat ip to {}:{}", proto,
                                     candidates[0]->address, candidates[0]->port)
                       : fmt::format("meta l4proto {} dnat ip to numgen random mod {} map {{ {} }}",
                                     proto, candidates.size(), absl::StrJoin(arms, ", ")));
    } else {
      // ClientIP: a chain per endpoint, which records its clients in a set of its own.
      std::vector<std::string> targets;
      for (const Backend* b : candidates) {
        const std::string suffix = fmt::format("{}__{}/{}", base, b->address, b->port);
        const std::string endpoint = "endpoint-" + suffix;
        const std::string set = "affinity-" + suffix;
        objects.chains.insert(endpoint);
        targets.push_back(endpoint);
        objects.sets[set] = rule.affinity_timeout_seconds;
        plan.rules.emplace_back(service, fmt::format("ip saddr @{} goto {}", set, endpoint));
        plan.rules.emplace_back(endpoint, fmt::format("update @{} {{ ip saddr }}", set));
        plan.rules.emplace_back(endpoint, fmt::format("meta l4proto {} dnat to {}:{}", proto,
                                                      b->address, b->port));
      }
      std::vector<std::string> arms;
      for (size_t i = 0; i < targets.size(); ++i) {
        arms.push_back(fmt::format("{} : goto {}", i, targets[i]));
      }
      plan.rules.emplace_back(service, fmt::format("numgen random mod {} vmap {{ {} }}",
                                                   targets.size(), absl::StrJoin(arms, ", ")));
    }
    if (port.node_port != 0) {
      const std::string external = "external-" + base;
      objects.chains.insert(external);
      objects.elements[std::string(kServiceNodePorts)].insert(
          fmt::format("{} : goto {}", port_key, external));
      plan.rules.emplace_back(external, "jump mark-for-masquerade");
      plan.rules.emplace_back(external, "goto " + service);
    }
  }
  return plan;
}

// "KEY : VERDICT" -> the element as `add element` writes it, with the Service's comment.
std::string ElementToAdd(std::string_view element, std::string_view comment) {
  const size_t colon = element.rfind(" : ");
  return fmt::format("{} comment \"{}\"{}", element.substr(0, colon), comment,
                     element.substr(colon));
}

// Writes the change from what the table holds for one Service (`held`) to what `plan`
// wants (nullptr: nothing). With `maps_flushed`, the maps were emptied earlier in the same
// transaction, so no old element needs deleting.
void AppendChange(std::string& out, std::string_view table, const Objects& held,
                  const Plan* plan, bool maps_flushed) {
  static const Plan kNothing;
  const Plan& want_plan = plan != nullptr ? *plan : kNothing;
  const Objects& want = want_plan.objects;
  // 1. Old elements that go: `add` first, so the `delete` holds even if the element was
  //    removed behind our back.
  if (!maps_flushed) {
    for (const auto& [map, elements] : held.elements) {
      auto wanted = want.elements.find(map);
      for (const std::string& e : elements) {
        if (wanted != want.elements.end() && wanted->second.contains(e)) continue;
        fmt::format_to(std::back_inserter(out), "add element ip {} {} {{ {} }}\n", table, map, e);
        fmt::format_to(std::back_inserter(out), "delete element ip {} {} {{ {} }}\n", table, map,
                       e.substr(0, e.rfind(" : ")));
      }
    }
  }
  // 2. Every chain held or wanted is emptied (an emptied chain references nothing), and the
  //    wanted ones are made.
  for (const std::string& chain : held.chains) {
    fmt::format_to(std::back_inserter(out), "flush chain ip {} {}\n", table, chain);
  }
  for (const std::string& chain : want.chains) {
    if (held.chains.contains(chain)) continue;
    // Emptied too: a chain of that name the table held unbeknown to us gets no duplicates.
    fmt::format_to(std::back_inserter(out), "add chain ip {0} {1}\nflush chain ip {0} {1}\n",
                   table, chain);
  }
  for (const auto& [set, timeout] : want.sets) {
    fmt::format_to(std::back_inserter(out),
                   "add set ip {} {} {{ type ipv4_addr ; flags dynamic,timeout ; "
                   "timeout {}s ; }}\n",
                   table, set, timeout);
  }
  // 3. The wanted rules and elements.
  for (const auto& [chain, rule] : want_plan.rules) {
    fmt::format_to(std::back_inserter(out), "add rule ip {} {} {}\n", table, chain, rule);
  }
  for (const auto& [map, elements] : want.elements) {
    for (const std::string& e : elements) {
      fmt::format_to(std::back_inserter(out), "add element ip {} {} {{ {} }}\n", table, map,
                     ElementToAdd(e, want_plan.comment));
    }
  }
  // 4. What is no longer wanted goes, chains before the sets their rules updated.
  for (const std::string& chain : held.chains) {
    if (want.chains.contains(chain)) continue;
    fmt::format_to(std::back_inserter(out), "delete chain ip {} {}\n", table, chain);
  }
  for (const auto& [set, timeout] : held.sets) {
    if (want.sets.contains(set)) continue;
    fmt::format_to(std::back_inserter(out), "delete set ip {} {}\n", table, set);
  }
}

// The plans of `rules`, checked first: kInvalidArgument for the first bad one.
absl::StatusOr<Plans> PlansFor(const std::vector<ServiceRule>& rules,
                               const std::optional<IPv4Cidr>& cluster_cidr) {
  Plans plans;
  for (const ServiceRule& rule : rules) {
    ORCH_RETURN_IF_ERROR(ValidateServiceRule(rule));
    plans[ServiceName(rule.ns, rule.name)] = PlanFor(rule, cluster_cidr);
  }
  return plans;
}

// The transaction from `held` to `plans` (Services not in `plans` stay as they are); ""
// when there is nothing to do.
std::string Transaction(std::string_view table,
                        const std::map<std::string, Objects, std::less<>>& held,
                        const Plans& plans, bool maps_flushed) {
  static const Objects kNone;
  std::string out;
  for (const auto& [key, plan] : plans) {
    auto it = held.find(key);
    if (it == held.end() && !plan.has_value()) continue;  // nothing to delete
    AppendChange(out, table, it != held.end() ? it->second : kNone,
                 plan.has_value() ? &*plan : nullptr, maps_flushed);
  }
  return out;
}

// Records that the table now holds what `plans` wanted.
void Record(std::map<std::string, Objects, std::less<>>& held, Plans plans) {
  for (auto& [key, plan] : plans) {
    if (plan.has_value()) {
      held[key] = std::move(plan->objects);
    } else {
      held.erase(key);
    }
  }
}

// The fixed part, made where missing and its chains' rules rewritten; with `flush_maps`
// the maps emptied too.
std::string FixedPartOf(std::string_view table, uint32_t mark, bool flush_maps) {
  std::string out = fmt::format("add table ip {}\n", table);
  const std::string mark_text = fmt::format("{:#x}", mark);
  for (const auto& [map, key] : FixedMaps()) {
    fmt::format_to(std::back_inserter(out), "add map ip {} {} {{ type {} : verdict ; }}\n", table,
                   map, key);
    if (flush_maps) fmt::format_to(std::back_inserter(out), "flush map ip {} {}\n", table, map);
  }
  for (const FixedChain& chain : FixedChains()) {
    if (chain.hook.empty()) {
      fmt::format_to(std::back_inserter(out), "add chain ip {} {}\n", table, chain.name);
    } else {
      fmt::format_to(std::back_inserter(out), "add chain ip {} {} {{ {} ; policy accept ; }}\n",
                     table, chain.name, chain.hook);
    }
    fmt::format_to(std::back_inserter(out), "flush chain ip {} {}\n", table, chain.name);
  }
  for (const FixedChain& chain : FixedChains()) {
    for (std::string_view rule : chain.rules) {
      fmt::format_to(std::back_inserter(out), "add rule ip {} {} {}\n", table, chain.name,
                     fmt::format(fmt::runtime(rule), fmt::arg("mark", mark_text)));
    }
  }
  return out;
}

// `value`'s field `name`, or an empty value: nft's JSON is read without trusting its shape.
const google::protobuf::Value& Field(const google::protobuf::Value& value, const char* name) {
  static const google::protobuf::Value kEmpty;
  const auto& fields = value.struct_value().fields();
  auto it = fields.find(name);
  return it != fields.end() ? it->second : kEmpty;
}

// One element of `nft -j` output as "KEY : VERDICT", and its comment.
std::pair<std::string, std::string> ParseElement(const google::protobuf::Value& elem) {
  const auto& pair = elem.list_value().values();
  if (pair.size() != 2) return {};
  const google::protobuf::Value* key = &pair[0];
  std::string comment;
  if (const google::protobuf::Value& wrapped = Field(*key, "elem"); wrapped.has_struct_value()) {
    comment = Field(wrapped, "comment").string_value();
    key = &Field(wrapped, "val");
  }
  std::vector<std::string> parts;
  auto part = [&parts](const google::protobuf::Value& v) {
    parts.push_back(v.has_number_value()
                        ? fmt::format("{}", static_cast<int64_t>(v.number_value()))
                        : v.string_value());
  };
  if (const google::protobuf::Value& concat = Field(*key, "concat"); concat.has_list_value()) {
    for (const auto& v : concat.list_value().values()) part(v);
  } else {
    part(*key);
  }
  std::string target;
  for (const char* kind : {"goto", "jump"}) {
    const std::string& chain = Field(Field(pair[1], kind), "target").string_value();
    if (!chain.empty()) target = fmt::format("{} {}", kind, chain);
  }
  if (target.empty()) return {};
  return {fmt::format("{} : {}", absl::StrJoin(parts, " . "), target), comment};
}

}  // namespace

NftablesNetwork::NftablesNetwork(NftablesNetworkOptions options) : options_(std::move(options)) {}

absl::StatusOr<std::unique_ptr<NftablesNetwork>> NftablesNetwork::Create(
    NftablesNetworkOptions options) {
  const std::string& table = options.table;
  if (table.empty() || table.size() > 64 || !absl::ascii_isalpha(table[0]) ||
      !std::all_of(table.begin(), table.end(),
                   [](char c) { return absl::ascii_isalnum(c) || c == '-' || c == '_'; })) {
    return absl::InvalidArgumentError(fmt::format(
        "nftables network: table: Invalid value: \"{}\": must be a letter followed by letters, "
        "digits, '-' or '_' (at most 64)",
        table));
  }
  if (options.masquerade_mark == 0 ||
      (options.masquerade_mark & (options.masquerade_mark - 1)) != 0) {
    return absl::InvalidArgumentError(fmt::format(
        "nftables network: masqueradeMark: Invalid value: {:#x}: must be a single bit",
        options.masquerade_mark));
  }
  std::optional<IPv4Cidr> cluster_cidr;
  if (!options.cluster_cidr.empty()) {
    ORCH_ASSIGN_OR_RETURN(cluster_cidr,
                          ParseIPv4Cidr(options.cluster_cidr, "nftables network: clusterCIDR"));
  }
  std::optional<IPv4Cidr> pod_cidr;
  if (!options.pod_cidr.empty()) {
    ORCH_ASSIGN_OR_RETURN(pod_cidr,
                          ParseIPv4Cidr(options.pod_cidr, "nftables network: podCIDR", 8, 30));
    if (options.node_name.empty()) {
      return absl::InvalidArgumentError(
          "nftables network: nodeName: Required value: a pod range needs its node's name");
    }
  }
  auto network = std::unique_ptr<NftablesNetwork>(new NftablesNetwork(std::move(options)));
  network->cluster_cidr_ = cluster_cidr;
  MutexLock lock(&network->mu_);
  if (pod_cidr.has_value()) network->pod_addresses_.emplace(*pod_cidr);
  if (absl::Status read = network->ReadTable(); !read.ok()) {
    return absl::FailedPreconditionError(read.message());
  }
  if (absl::Status applied = network->Apply(network->FixedPart(false)); !applied.ok()) {
    return absl::FailedPreconditionError(applied.message());
  }
  network->have_fixed_ = true;
  return network;
}

std::string NftablesNetwork::FixedPart(bool flush_maps) const {
  return FixedPartOf(options_.table, options_.masquerade_mark, flush_maps);
}

absl::StatusOr<std::string> NftablesNetwork::Nft(std::vector<std::string> args,
                                                  std::string_view input) const {
  std::vector<std::string> command;
  if (!options_.netns.empty()) command = {"ip", "netns", "exec", options_.netns};
  command.push_back(options_.nft);
  command.insert(command.end(), args.begin(), args.end());
  ORCH_ASSIGN_OR_RETURN(internal::ProgramResult result,
                        internal::RunProgram(command, input, options_.timeout));
  if (result.exit_code != 0) {
    return absl::InternalError(fmt::format("nft {} (table ip {}): {}", absl::StrJoin(args, " "),
                                           options_.table,
                                           std::string(absl::StripAsciiWhitespace(result.errors))));
  }
  return std::move(result.output);
}

absl::Status NftablesNetwork::ReadTable() {
  absl::StatusOr<std::string> listed = Nft({"-j", "list", "table", "ip", options_.table}, "");
  if (!listed.ok()) {
    // No table yet: nothing held.
    if (absl::StrContains(listed.status().message(), "No such file or directory")) {
      return absl::OkStatus();
    }
    return listed.status();
  }
  google::protobuf::Value root;
  if (!google::protobuf::util::JsonStringToMessage(*listed, &root).ok()) {
    return absl::InternalError(
        fmt::format("nft -j list table ip {}: output is not JSON", options_.table));
  }
  for (const google::protobuf::Value& item : Field(root, "nftables").list_value().values()) {
    if (const std::string& name = Field(Field(item, "chain"), "name").string_value();
        !name.empty()) {
      // The fixed part's chains have no owner.
      if (const std::string owner = OwnerOf(name); !owner.empty()) {
        services_[owner].chains.insert(name);
      }
    } else if (const std::string& set = Field(Field(item, "set"), "name").string_value();
               !set.empty()) {
      if (const std::string owner = OwnerOf(set); !owner.empty()) services_[owner].sets[set] = 0;
    } else if (const google::protobuf::Value& map = Field(item, "map"); map.has_struct_value()) {
      const std::string& map_name = Field(map, "name").string_value();
      for (const google::protobuf::Value& elem : Field(map, "elem").list_value().values()) {
        auto [element, comment] = ParseElement(elem);
        if (element.empty()) continue;
        std::string owner = comment;
        if (owner.empty()) owner = OwnerOf(element.substr(element.rfind(' ') + 1));
        if (owner.empty()) continue;  // not ours to remove one by one: SyncAll flushes it
        services_[owner].elements[map_name].insert(element);
      }
    }
  }
  return absl::OkStatus();
}

absl::Status NftablesNetwork::Apply(const std::string& transaction) {
  ++transactions_;
  last_transaction_ = transaction;
  return Nft({"-f", "-"}, transaction).status();
}

absl::StatusOr<std::string> NftablesNetwork::AssignPodAddress(std::string_view node,
                                                              std::string_view pod_uid) {
  MutexLock lock(&mu_);
  if (!pod_addresses_.has_value()) {
    return absl::FailedPreconditionError(
        "nftables network: no pod range (podCIDR) is set; pods take their address from the "
        "runtime's CNI");
  }
  if (node != options_.node_name) {
    return absl::NotFoundError(fmt::format("node {} has no pod range", node));
  }
  return pod_addresses_->Assign(node, pod_uid);
}

void NftablesNetwork::ReleasePodAddress(std::string_view node, std::string_view pod_uid) {
  MutexLock lock(&mu_);
  if (pod_addresses_.has_value() && node == options_.node_name) pod_addresses_->Release(pod_uid);
}

absl::Status NftablesNetwork::SyncService(const ServiceRule& rule) {
  return SyncServices({.synced = {rule}});
}

absl::Status NftablesNetwork::DeleteService(std::string_view ns, std::string_view name) {
  return SyncServices({.deleted = {{std::string(ns), std::string(name)}}});
}

absl::Status NftablesNetwork::SyncServices(const ServiceChanges& changes) {
  // Later changes of one Service win, a sync or a delete alike.
  ORCH_ASSIGN_OR_RETURN(Plans plans, PlansFor(changes.synced, cluster_cidr_));
  for (const auto& [ns, name] : changes.deleted) plans[ServiceName(ns, name)] = std::nullopt;
  MutexLock lock(&mu_);
  const std::string change = Transaction(options_.table, services_, plans, false);
  if (change.empty()) return absl::OkStatus();
  ORCH_RETURN_IF_ERROR(Apply(have_fixed_ ? change : FixedPart(false) + change));
  have_fixed_ = true;
  Record(services_, std::move(plans));
  return absl::OkStatus();
}

absl::Status NftablesNetwork::SyncAll(const std::vector<ServiceRule>& rules) {
  ORCH_ASSIGN_OR_RETURN(Plans plans, PlansFor(rules, cluster_cidr_));
  MutexLock lock(&mu_);
  for (const auto& [key, held] : services_) plans.try_emplace(key, std::nullopt);  // they go
  ORCH_RETURN_IF_ERROR(
      Apply(FixedPart(true) + Transaction(options_.table, services_, plans, true)));
  have_fixed_ = true;
  Record(services_, std::move(plans));
  return absl::OkStatus();
}

absl::Status NftablesNetwork::Cleanup() {
  MutexLock lock(&mu_);
  // `add` first, so the `delete` holds when there is no table.
  ORCH_RETURN_IF_ERROR(Apply(fmt::format("add table ip {0}\ndelete table ip {0}\n",
                                         options_.table)));
  have_fixed_ = false;
  services_.clear();
  return absl::OkStatus();
}

absl::StatusOr<std::string> NftablesNetwork::ListTable() const {
  return Nft({"list", "table", "ip", options_.table}, "");
}

int64_t NftablesNetwork::transactions() const {
  MutexLock lock(&mu_);
  return transactions_;
}

std::string NftablesNetwork::last_transaction() const {
  MutexLock lock(&mu_);
  return last_transaction_;
}

}  // namespace orch::network

// ImageLocality: prefers nodes that already hold the pod's images, weighing each image by
// its size and by how widely it is spread over the cluster (so that one node holding a big
// image does not attract every pod), scaled to 0..100 between Kubernetes' thresholds.
#include <algorithm>

#include "scheduler/plugins/factories.h"

namespace orch::scheduler::plugins {
namespace {

constexpr int64_t kMiB = 1024 * 1024;
// Below this much (spread-weighted) image data a node scores 0...
constexpr int64_t kMinThreshold = 23 * kMiB;
// ...and at this much per container it scores 100.
constexpr int64_t kMaxContainerThreshold = 1000 * kMiB;

constexpr std::string_view kPreScoreStateKey = "PreScoreImageLocality";

// The normalized image names of the init containers and containers, and their count.
struct PreScoreState final : CycleState::Data {
  std::vector<std::string> images;
  std::unique_ptr<Data> Clone() const override { return std::make_unique<PreScoreState>(*this); }
};

std::vector<std::string> PodImages(const api::v1::Pod& pod) {
  std::vector<std::string> images;
  images.reserve(pod.spec().init_containers_size() + pod.spec().containers_size());
  for (const api::v1::Container& c : pod.spec().init_containers()) {
    images.push_back(NormalizedImageName(c.image()));
  }
  for (const api::v1::Container& c : pod.spec().containers()) {
    images.push_back(NormalizedImageName(c.image()));
  }
  return images;
}

// An image's size scaled by the fraction of nodes that hold it.
int64_t ScaledImageScore(const ImageState& image, int64_t total_nodes) {
  const double spread = static_cast<double>(image.num_nodes) / static_cast<double>(total_nodes);
  return static_cast<int64_t>(static_cast<double>(image.size_bytes) * spread);
}

int64_t CalculatePriority(int64_t sum, int64_t num_containers) {
  const int64_t max_threshold = kMaxContainerThreshold * num_containers;
  if (sum < kMinThreshold) {
    sum = kMinThreshold;
  } else if (sum > max_threshold) {
    sum = max_threshold;
  }
  return kMaxNodeScore * (sum - kMinThreshold) / (max_threshold - kMinThreshold);
}

class ImageLocality final : public PreScorePlugin, public ScorePlugin {
 public:
  explicit ImageLocality(Handle& handle) : handle_(handle) {}
  std::string_view Name() const override { return kImageLocality; }

  Status PreScore(CycleState& state, const PodInfo& pod,
                  const std::vector<const NodeInfo*>& feasible) override {
    auto data = std::make_unique<PreScoreState>();
    data->images = PodImages(pod.pod());
    state.Write(kPreScoreStateKey, std::move(data));
    return Status();
  }

  Status Score(CycleState& state, const PodInfo& pod, const NodeInfo& node,
               int64_t* score) const override {
    if (node.images().empty()) {  // the usual case, and no image name to hash
      *score = 0;
      return Status();
    }
    const PreScoreState* s = state.Read<PreScoreState>(kPreScoreStateKey);
    std::vector<std::string> computed;
    if (s == nullptr) computed = PodImages(pod.pod());
    const std::vector<std::string>& images = s != nullptr ? s->images : computed;

    const int64_t total_nodes = static_cast<int64_t>(handle_.snapshot().nodes().size());
    int64_t sum = 0;
    for (const std::string& image : images) {
      auto it = node.images().find(image);
      if (it != node.images().end()) sum += ScaledImageScore(it->second, total_nodes);
    }
    *score = CalculatePriority(sum, static_cast<int64_t>(images.size()));
    return Status();
  }

  // Most nodes report no images: they score 0 without a call each.
  Status ScoreNodes(CycleState& state, const PodInfo& pod, absl::Span<const NodeInfo* const> nodes,
                    absl::Span<int64_t> scores) const override {
    for (size_t i = 0; i < nodes.size(); ++i) {
      scores[i] = 0;
      if (!nodes[i]->images().empty()) (void)Score(state, pod, *nodes[i], &scores[i]);
    }
    return Status();
  }

 private:
  Handle& handle_;
};

}  // namespace

FactoryResult NewImageLocality(const PluginArgs& args, Handle& handle) {
  return std::make_unique<ImageLocality>(handle);
}

}  // namespace orch::scheduler::plugins

// The manifest codec's throughput: decoding a typical Deployment (YAML and JSON, with and
// without defaulting + validation) and encoding it back.
#include <string>

#include "benchmark/benchmark.h"
#include "orch/api/codec.h"
#include "orch/api/scheme.h"

namespace {

constexpr char kDeployment[] = R"(apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
  labels:
    app.kubernetes.io/name: web
    tier: frontend
spec:
  replicas: 3
  selector:
    matchLabels:
      app.kubernetes.io/name: web
  strategy:
    rollingUpdate:
      maxSurge: 1
      maxUnavailable: 25%
  template:
    metadata:
      labels:
        app.kubernetes.io/name: web
        tier: frontend
    spec:
      containers:
      - name: web
        image: nginx:1.25.3
        args: ["--port=8080", "--verbose"]
        ports:
        - name: http
          containerPort: 8080
        env:
        - name: MODE
          value: production
        resources:
          requests: {cpu: 250m, memory: 64Mi}
          limits: {cpu: "1", memory: 128Mi}
        readinessProbe:
          httpGet: {path: /healthz, port: http}
          periodSeconds: 5
      tolerations:
      - key: dedicated
        operator: Equal
        value: web
        effect: NoSchedule
)";

const orch::api::DecodeOptions kRaw{.apply_defaults = false, .validate = false};

void Decode(benchmark::State& state, const std::string& text,
            const orch::api::DecodeOptions& options) {
  for (auto _ : state) {
    auto objects = orch::api::DecodeManifests(text, "bench", orch::api::Scheme::Builtin(), options);
    if (!objects.ok()) state.SkipWithError(std::string(objects.status().message()).c_str());
    benchmark::DoNotOptimize(objects);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
}

void BM_DecodeYaml(benchmark::State& state) { Decode(state, kDeployment, kRaw); }
void BM_DecodeYamlDefaultAndValidate(benchmark::State& state) {
  Decode(state, kDeployment, orch::api::DecodeOptions{});
}
void BM_DecodeJson(benchmark::State& state) {
  auto objects = orch::api::DecodeManifests(kDeployment, "bench", orch::api::Scheme::Builtin(), kRaw);
  Decode(state, *orch::api::EncodeJson(*objects->front().object), kRaw);
}

void BM_EncodeYaml(benchmark::State& state) {
  auto objects = orch::api::DecodeManifests(kDeployment, "bench", orch::api::Scheme::Builtin());
  for (auto _ : state) benchmark::DoNotOptimize(orch::api::EncodeYaml(*objects->front().object));
}

void BM_EncodeJson(benchmark::State& state) {
  auto objects = orch::api::DecodeManifests(kDeployment, "bench", orch::api::Scheme::Builtin());
  for (auto _ : state) benchmark::DoNotOptimize(orch::api::EncodeJson(*objects->front().object));
}

BENCHMARK(BM_DecodeYaml);
BENCHMARK(BM_DecodeYamlDefaultAndValidate);
BENCHMARK(BM_DecodeJson);
BENCHMARK(BM_EncodeYaml);
BENCHMARK(BM_EncodeJson);

}  // namespace

// Manifests in, objects out, and back: decode a two-document manifest with defaulting and
// validation, print what Kubernetes' defaulting filled in, encode the result as JSON, and
// show the error a bad manifest gets (docs/guides/manifests.md).
#include <cstdio>
#include <string>

#include "orch/api/codec.h"
#include "orch/api/scheme.h"
#include "orch/api/v1/apps.pb.h"

namespace {

constexpr char kGood[] = R"(apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: nginx:1.25
        resources: {requests: {cpu: 0.5, memory: 1.5Gi}}
)";

constexpr char kBad[] = R"(apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: nginx:1.25
        resources: {limits: {cpu: two}}
)";

}  // namespace

int main() {
  const orch::api::Scheme& scheme = orch::api::Scheme::Builtin();
  auto objects = orch::api::DecodeManifests(kGood, "shop.yaml", scheme);
  if (!objects.ok() || objects->size() != 2) return 1;
  for (const auto& decoded : *objects) {
    std::printf("document %d: %s\n", decoded.document, decoded.kind->kind.c_str());
  }
  const auto& web = static_cast<const orch::api::v1::Deployment&>(*(*objects)[1].object);
  const auto& rolling = web.spec().strategy().rolling_update();
  std::printf("defaulted: replicas=%d strategy=%s maxSurge=%s revisionHistoryLimit=%d\n",
              web.spec().replicas(), web.spec().strategy().type().c_str(),
              rolling.max_surge().str_val().c_str(), web.spec().revision_history_limit());
  std::printf("canonical cpu request: %s\n", web.spec().template_().spec().containers(0)
                                                 .resources().requests().at("cpu").value().c_str());
  auto json = orch::api::EncodeJson(web);
  if (!json.ok()) return 1;
  std::printf("json: %zu bytes\n", json->size());

  auto bad = orch::api::DecodeManifests(kBad, "web.yaml", scheme);
  if (bad.ok()) return 1;
  std::printf("error: %s\n", std::string(bad.status().message()).c_str());
  return 0;
}

// Python bindings: the parts of orch a script needs first — reading manifests the way
// orch reads them, and Kubernetes quantities. Errors from orch become ValueError with
// orch's message (file, document and field path).
#include <string>
#include <tuple>
#include <vector>

#include "orch/api/codec.h"
#include "orch/api/quantity.h"
#include "orch/api/scheme.h"
#include "pybind11/pybind11.h"
#include "pybind11/stl.h"

namespace py = pybind11;

namespace {

template <typename T>
T ValueOrThrow(absl::StatusOr<T> result) {
  if (!result.ok()) throw py::value_error(std::string(result.status().message()));
  return *std::move(result);
}

// One (kind, namespace, name, json) tuple per object in `text`, defaulted and validated.
std::vector<std::tuple<std::string, std::string, std::string, std::string>> DecodeManifests(
    const std::string& text, const std::string& source) {
  auto objects =
      ValueOrThrow(orch::api::DecodeManifests(text, source, orch::api::Scheme::Builtin()));
  std::vector<std::tuple<std::string, std::string, std::string, std::string>> out;
  for (const auto& decoded : objects) {
    orch::api::v1::ObjectHeader header;
    header.ParseFromString(decoded.object->SerializeAsString());
    out.emplace_back(decoded.kind->kind, header.metadata().namespace_(),
                     header.metadata().name(),
                     ValueOrThrow(orch::api::EncodeJson(*decoded.object)));
  }
  return out;
}

}  // namespace

PYBIND11_MODULE(orch, m) {
  m.doc() = "orch: Kubernetes' scheduling and self-healing core, embeddable";

  m.def("decode_manifests", &DecodeManifests, py::arg("text"), py::arg("source") = "<string>",
        "Decodes multi-document YAML or JSON manifests strictly, with Kubernetes defaulting "
        "and validation. Returns [(kind, namespace, name, json)]; raises ValueError naming "
        "the source, document and field path of the first bad document.");

  py::class_<orch::api::Quantity>(m, "Quantity")
      .def(py::init([](const std::string& text) {
             return ValueOrThrow(orch::api::Quantity::Parse(text));
           }),
           py::arg("text"), "Parses a Kubernetes quantity (\"500m\", \"1.5Gi\", \"2e3\").")
      .def("value", &orch::api::Quantity::Value, "Rounded up to an integer.")
      .def("milli_value", &orch::api::Quantity::MilliValue, "Rounded up to milli-units.")
      .def("__str__", &orch::api::Quantity::ToString)
      .def("__repr__", [](const orch::api::Quantity& q) { return "Quantity(\"" + q.ToString() + "\")"; })
      .def("__eq__", [](const orch::api::Quantity& a, const orch::api::Quantity& b) { return a == b; })
      .def("__lt__", [](const orch::api::Quantity& a, const orch::api::Quantity& b) { return a < b; });
}

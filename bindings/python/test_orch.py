"""Checks the orch Python module against orch's own behaviour (run by CTest)."""
import json
import unittest

import orch


class QuantityTest(unittest.TestCase):
    def test_canonical_forms_and_values(self):
        self.assertEqual(str(orch.Quantity("0.5")), "500m")
        self.assertEqual(str(orch.Quantity("1.5Gi")), "1536Mi")
        self.assertEqual(orch.Quantity("1.5Gi").value(), 1536 * 1024 * 1024)
        self.assertEqual(orch.Quantity("250m").milli_value(), 250)
        self.assertEqual(orch.Quantity("1Gi"), orch.Quantity("1073741824"))
        self.assertLess(orch.Quantity("999m"), orch.Quantity("1"))

    def test_bad_quantity_raises_value_error(self):
        with self.assertRaisesRegex(ValueError, 'invalid quantity "two"'):
            orch.Quantity("two")


class ManifestTest(unittest.TestCase):
    MANIFEST = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: "nginx:1.25"}]
---
apiVersion: v1
kind: Namespace
metadata: {name: shop}
"""

    def test_decodes_defaults_and_encodes(self):
        objects = orch.decode_manifests(self.MANIFEST, "web.yaml")
        self.assertEqual([o[:3] for o in objects],
                         [("Deployment", "default", "web"), ("Namespace", "", "shop")])
        deployment = json.loads(objects[0][3])
        self.assertEqual(deployment["spec"]["replicas"], 1)
        self.assertEqual(deployment["spec"]["strategy"]["rollingUpdate"]["maxSurge"], "25%")

    def test_errors_name_the_document_and_field(self):
        bad = self.MANIFEST.replace("spec:\n  selector", "spec:\n  replica: 3\n  selector")
        with self.assertRaisesRegex(ValueError,
                                    r'web.yaml: document 1 \(Deployment "web"\): '
                                    r'spec: unknown field "replica"'):
            orch.decode_manifests(bad, "web.yaml")


if __name__ == "__main__":
    unittest.main()

#!/usr/bin/env python3
"""Checks of the deployment files, without Docker or Kubernetes.

- every YAML file under compose/ parses;
- compose/docker-compose.yml is sound: services have an image or a build, ports are strings,
  depends_on names existing services (with a health check where it waits for one), every
  ${VAR} has a default, named volumes are declared, mounted files exist;
- compose/Dockerfile builds with the libraries compose/local/install.sh installs;
- compose/k8s/ documents have apiVersion, kind and metadata.name, selectors match, every
  referenced ConfigMap, key, Service and port exists, kustomization lists every manifest;
- the gateway routes agree: the local stack, Compose and Kubernetes use the same
  compose/nginx/oa-http.conf and oa-routes.conf (Kubernetes as a verbatim copy), each defines
  the oa_edge and oa_query upstreams, and those routes send each request where DESIGN.md says;
- with nginx installed, the rendered local gateway configuration passes `nginx -t`.

Runs with python3 and PyYAML; prints "N passed, M failed" and exits non-zero on a failure.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

import yaml

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
COMPOSE = os.path.join(REPO, "compose")
K8S = os.path.join(COMPOSE, "k8s")
NGINX = os.path.join(COMPOSE, "nginx")
LOCAL = os.path.join(COMPOSE, "local")


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def yaml_files():
    for root, _dirs, files in os.walk(COMPOSE):
        for name in sorted(files):
            if name.endswith((".yml", ".yaml")):
                yield os.path.join(root, name)


def compose_file():
    return yaml.safe_load(read(os.path.join(COMPOSE, "docker-compose.yml")))


def k8s_documents():
    """(file name, document) for every manifest in compose/k8s except the kustomization."""
    for name in sorted(os.listdir(K8S)):
        if name.endswith((".yml", ".yaml")) and name != "kustomization.yaml":
            for doc in yaml.safe_load_all(read(os.path.join(K8S, name))):
                if doc is not None:
                    yield name, doc


# --- a small nginx configuration reader ------------------------------------------------------

def nginx_parse(text):
    """Parse nginx configuration text into a list of (name, args, children or None)."""
    tokens = re.findall(r"""'(?:\\.|[^'\\])*'|"(?:\\.|[^"\\])*"|[{};]|[^\s{};'"#]+|#[^\n]*""", text)
    tokens = [t for t in tokens if not t.startswith("#")]
    pos = 0

    def block():
        nonlocal pos
        items = []
        while pos < len(tokens):
            tok = tokens[pos]
            if tok == "}":
                pos += 1
                return items
            words = []
            while tokens[pos] not in ("{", ";", "}"):
                words.append(tokens[pos].strip("'\"") if tokens[pos][0] in "'\"" else tokens[pos])
                pos += 1
            end = tokens[pos]
            pos += 1
            if end == "{":
                items.append((words[0], words[1:], block()))
            elif end == ";":
                items.append((words[0], words[1:], None))
            else:
                raise ValueError("unexpected }")
        return items

    return block()


def directives(items, name):
    return [item for item in items if item[0] == name]


def find_blocks(items, name):
    """Every block called name, at any depth."""
    found = []
    for item in items:
        if item[0] == name:
            found.append(item)
        if item[2]:
            found.extend(find_blocks(item[2], name))
    return found


class Router:
    """Chooses the location nginx would choose for a URI, and the upstream it proxies to."""

    def __init__(self, http_conf, routes_conf):
        self.maps = {}
        for _name, args, body in directives(nginx_parse(http_conf), "map"):
            self.maps[args[1]] = (args[0], {n: a[0] for n, a, _ in body})
        self.locations = directives(nginx_parse(routes_conf), "location")

    def location(self, uri):
        exact, prefixes, regexes = None, [], []
        for loc in self.locations:
            args = loc[1]
            if args[0] == "=" and args[1] == uri:
                exact = loc
            elif args[0] in ("~", "~*"):
                regexes.append(loc)
            elif args[0] == "^~" and uri.startswith(args[1]):
                prefixes.append((len(args[1]), True, loc))
            elif not args[0].startswith(("@", "=", "~", "^")) and uri.startswith(args[0]):
                prefixes.append((len(args[0]), False, loc))
        if exact:
            return exact
        best = max(prefixes, key=lambda p: p[0]) if prefixes else None
        if best and best[1]:
            return best[2]
        for loc in regexes:
            flags = re.IGNORECASE if loc[1][0] == "~*" else 0
            if re.search(loc[1][1], uri, flags):
                return loc
        return best[2] if best else None

    def upstream(self, method, uri):
        loc = self.location(uri)
        if loc is None:
            return None
        target = directives(loc[2], "proxy_pass")[0][1][0]
        host = re.match(r"https?://([^/]+)", target).group(1)
        if host.startswith("$"):
            source, table = self.maps[host]
            assert source == "$request_method", source
            host = table.get(method, table["default"])
        return host


# Where each request must go (DESIGN.md: /collect and POST /v1/projects/{id}/events go to
# oa-edge, everything else to oa-query).
ROUTES = [
    ("POST", "/collect", "oa_edge"),
    ("GET", "/collect", "oa_edge"),
    ("OPTIONS", "/collect", "oa_edge"),
    ("POST", "/v1/projects/p_1/events", "oa_edge"),
    ("GET", "/v1/projects/p_1/events", "oa_query"),
    ("PUT", "/v1/projects/p_1/events", "oa_query"),
    ("POST", "/v1/projects/p_1/events/more", "oa_query"),
    ("POST", "/v1/projects/events", "oa_query"),
    ("GET", "/v1/projects", "oa_query"),
    ("POST", "/v1/projects", "oa_query"),
    ("GET", "/v1/projects/p_1/pageviews", "oa_query"),
    ("GET", "/v1/projects/p_1/realtime", "oa_query"),
    ("GET", "/v1/projects/p_1/realtime/stream", "oa_query"),
    ("DELETE", "/v1/projects/p_1/privacy/user/u_1", "oa_query"),
    ("GET", "/openapi.json", "oa_query"),
    ("GET", "/", "oa_query"),
    ("POST", "/collectx", "oa_query"),
]


class YamlFilesTest(unittest.TestCase):
    def test_every_yaml_file_parses(self):
        files = list(yaml_files())
        self.assertTrue(files, "no YAML files under compose/")
        for path in files:
            with self.subTest(path=os.path.relpath(path, REPO)):
                list(yaml.safe_load_all(read(path)))


class ComposeTest(unittest.TestCase):
    def setUp(self):
        self.doc = compose_file()
        self.services = self.doc["services"]

    def test_services_have_an_image_or_a_build(self):
        for name, svc in self.services.items():
            with self.subTest(service=name):
                self.assertTrue("image" in svc or "build" in svc)

    def test_ports_are_strings(self):
        for name, svc in self.services.items():
            for port in svc.get("ports", []):
                with self.subTest(service=name, port=port):
                    self.assertIsInstance(port, str, "write ports as quoted strings: YAML reads 80:80 as a number")

    def test_depends_on_names_existing_services(self):
        for name, svc in self.services.items():
            deps = svc.get("depends_on", {})
            for dep in deps:
                with self.subTest(service=name, depends_on=dep):
                    self.assertIn(dep, self.services)
                    condition = deps[dep].get("condition") if isinstance(deps, dict) else None
                    if condition == "service_healthy":
                        self.assertIn("healthcheck", self.services[dep], f"{dep} has no healthcheck to wait for")
                    if condition == "service_completed_successfully":
                        self.assertEqual(self.services[dep].get("restart", "no"), "no", f"{dep} must be a one-shot")

    def test_every_variable_has_a_default(self):
        text = read(os.path.join(COMPOSE, "docker-compose.yml"))
        defined = set()
        env_file = os.path.join(COMPOSE, ".env")
        if os.path.exists(env_file):
            defined = {line.split("=", 1)[0].strip() for line in read(env_file).splitlines() if "=" in line}
        text = text.replace("$$", "")
        for match in re.finditer(r"\$\{([A-Za-z_][A-Za-z0-9_]*)([^}]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)", text):
            name = match.group(1) or match.group(3)
            modifier = match.group(2) or ""
            with self.subTest(variable=name):
                self.assertTrue(modifier.startswith((":-", "-")) or name in defined,
                                f"${{{name}}} has no default and compose/.env does not set it")

    def test_named_volumes_are_declared(self):
        declared = set(self.doc.get("volumes") or {})
        for name, svc in self.services.items():
            for volume in svc.get("volumes", []):
                source = volume.split(":")[0] if isinstance(volume, str) else volume.get("source", "")
                if source and not source.startswith((".", "/", "~")):
                    with self.subTest(service=name, volume=source):
                        self.assertIn(source, declared)

    def test_mounted_files_exist(self):
        for name, svc in self.services.items():
            for volume in svc.get("volumes", []):
                source = volume.split(":")[0] if isinstance(volume, str) else volume.get("source", "")
                if source.startswith("."):
                    with self.subTest(service=name, mount=source):
                        self.assertTrue(os.path.exists(os.path.join(COMPOSE, source)))

    def test_build_context_and_dockerfile_exist(self):
        for name, svc in self.services.items():
            build = svc.get("build")
            if build:
                with self.subTest(service=name):
                    context = os.path.join(COMPOSE, build["context"] if isinstance(build, dict) else build)
                    self.assertTrue(os.path.isdir(context))
                    dockerfile = build.get("dockerfile", "Dockerfile") if isinstance(build, dict) else "Dockerfile"
                    self.assertTrue(os.path.isfile(os.path.join(context, dockerfile)))

    def test_topics_service_runs_oa_admin_once(self):
        topics = self.services["topics"]
        self.assertEqual(topics["command"], ["oa-admin", "topics", "ensure"])
        self.assertEqual(topics.get("restart"), "no")
        self.assertEqual(topics["environment"]["OA_KAFKA_BROKERS"], "kafka:9092")

    def test_migrate_service_runs_once_before_the_daemons(self):
        migrate = self.services["migrate"]
        self.assertEqual(migrate["command"], ["oa-admin", "migrate"])
        self.assertEqual(migrate.get("restart"), "no")
        self.assertEqual(migrate["depends_on"]["clickhouse"]["condition"], "service_healthy")
        self.assertEqual(self.services["oa-edge"]["depends_on"]["migrate"]["condition"],
                         "service_completed_successfully")

    def test_kafka_is_kraft_4(self):
        kafka = self.services["kafka"]
        self.assertRegex(kafka["image"], r"^apache/kafka:4\.")
        self.assertEqual(kafka["environment"]["KAFKA_PROCESS_ROLES"], "broker,controller")
        self.assertEqual(kafka["environment"]["KAFKA_AUTO_CREATE_TOPICS_ENABLE"], "false")


class DockerfileTest(unittest.TestCase):
    def test_builds_with_the_libraries_install_sh_installs(self):
        install = read(os.path.join(LOCAL, "install.sh"))
        block = re.search(r"^PACKAGES=\((.*?)^\)", install, re.S | re.M).group(1)
        wanted = {w for line in block.splitlines() for w in line.split("#")[0].split()
                  if w.endswith("-dev") and w not in ("libc6-dev", "libcriterion-dev", "libclang-rt-14-dev")}
        dockerfile = read(os.path.join(COMPOSE, "Dockerfile"))
        build_stage = dockerfile.split("\nFROM ")[1]
        for package in sorted(wanted):
            with self.subTest(package=package):
                self.assertRegex(build_stage, r"\b%s\b" % re.escape(package))

    def test_debian_12_base(self):
        froms = re.findall(r"^FROM\s+(\S+)", read(os.path.join(COMPOSE, "Dockerfile")), re.M)
        self.assertTrue(froms)
        for image in froms:
            self.assertRegex(image, r"^debian:12")


class KubernetesTest(unittest.TestCase):
    NAMESPACE = "openanalytics"

    def setUp(self):
        self.docs = list(k8s_documents())

    def of_kind(self, kind):
        return [doc for _f, doc in self.docs if doc["kind"] == kind]

    def test_documents_have_api_version_kind_and_name(self):
        self.assertTrue(self.docs)
        for name, doc in self.docs:
            with self.subTest(file=name, doc=doc.get("metadata", {}).get("name")):
                self.assertTrue(doc.get("apiVersion"))
                self.assertTrue(doc.get("kind"))
                self.assertTrue(doc.get("metadata", {}).get("name"))

    def test_resources_are_in_the_namespace(self):
        for name, doc in self.docs:
            if doc["kind"] != "Namespace":
                with self.subTest(file=name, kind=doc["kind"]):
                    self.assertEqual(doc["metadata"].get("namespace"), self.NAMESPACE)

    def pod_templates(self):
        for doc in self.of_kind("Deployment") + self.of_kind("StatefulSet") + self.of_kind("Job"):
            yield doc, doc["spec"]["template"]

    def test_selectors_match_pod_labels(self):
        for doc, template in self.pod_templates():
            if doc["kind"] == "Job":
                continue
            with self.subTest(workload=doc["metadata"]["name"]):
                selector = doc["spec"]["selector"]["matchLabels"]
                labels = template["metadata"]["labels"]
                self.assertLessEqual(selector.items(), labels.items())

    def test_services_select_a_workload(self):
        pods = [t["metadata"]["labels"] for _d, t in self.pod_templates()]
        for svc in self.of_kind("Service"):
            with self.subTest(service=svc["metadata"]["name"]):
                selector = svc["spec"]["selector"]
                self.assertTrue(any(selector.items() <= labels.items() for labels in pods))

    def test_stateful_sets_name_their_service(self):
        services = {s["metadata"]["name"] for s in self.of_kind("Service")}
        for sts in self.of_kind("StatefulSet"):
            with self.subTest(statefulset=sts["metadata"]["name"]):
                self.assertIn(sts["spec"]["serviceName"], services)

    def test_config_maps_and_keys_exist(self):
        maps = {cm["metadata"]["name"]: cm.get("data", {}) for cm in self.of_kind("ConfigMap")}
        for doc, template in self.pod_templates():
            spec = template["spec"]
            for volume in spec.get("volumes", []):
                if "configMap" in volume:
                    ref = volume["configMap"]
                    with self.subTest(workload=doc["metadata"]["name"], volume=volume["name"]):
                        self.assertIn(ref["name"], maps)
                        for item in ref.get("items", []):
                            self.assertIn(item["key"], maps[ref["name"]])
            for container in spec["containers"]:
                for source in container.get("envFrom", []):
                    if "configMapRef" in source:
                        with self.subTest(workload=doc["metadata"]["name"], envFrom=source["configMapRef"]["name"]):
                            self.assertIn(source["configMapRef"]["name"], maps)
                names = {v["name"] for v in spec.get("volumes", [])}
                for mount in container.get("volumeMounts", []):
                    claims = {c["metadata"]["name"] for c in doc["spec"].get("volumeClaimTemplates", [])}
                    with self.subTest(workload=doc["metadata"]["name"], mount=mount["name"]):
                        self.assertIn(mount["name"], names | claims)

    def test_probes_use_declared_ports(self):
        for doc, template in self.pod_templates():
            for container in template["spec"]["containers"]:
                ports = {p.get("name") for p in container.get("ports", [])} | {p["containerPort"] for p in container.get("ports", [])}
                for probe in ("readinessProbe", "livenessProbe"):
                    action = container.get(probe, {})
                    for kind in ("httpGet", "tcpSocket"):
                        if kind in action:
                            with self.subTest(workload=doc["metadata"]["name"], probe=probe):
                                self.assertIn(action[kind]["port"], ports)

    def test_ingress_backends_exist(self):
        services = {s["metadata"]["name"]: s for s in self.of_kind("Service")}
        ingresses = self.of_kind("Ingress")
        self.assertTrue(ingresses)
        for ing in ingresses:
            for rule in ing["spec"]["rules"]:
                for path in rule["http"]["paths"]:
                    backend = path["backend"]["service"]
                    with self.subTest(ingress=ing["metadata"]["name"], path=path["path"]):
                        self.assertIn(backend["name"], services)
                        ports = services[backend["name"]]["spec"]["ports"]
                        port = backend["port"]
                        self.assertTrue(any(p.get("name") == port.get("name") or p["port"] == port.get("number") for p in ports))

    def test_everything_goes_through_the_gateway(self):
        for ing in self.of_kind("Ingress"):
            paths = [p for r in ing["spec"]["rules"] for p in r["http"]["paths"]]
            self.assertEqual([(p["path"], p["pathType"], p["backend"]["service"]["name"]) for p in paths],
                             [("/", "Prefix", "gateway")])

    def test_kustomization_lists_every_manifest(self):
        kustomization = yaml.safe_load(read(os.path.join(K8S, "kustomization.yaml")))
        files = {n for n in os.listdir(K8S) if n.endswith((".yml", ".yaml")) and n != "kustomization.yaml"}
        self.assertEqual(set(kustomization["resources"]), files)

    def test_topics_job_runs_oa_admin(self):
        jobs = {j["metadata"]["name"]: j for j in self.of_kind("Job")}
        self.assertEqual(set(jobs), {"oa-topics", "oa-migrate"})
        container = jobs["oa-topics"]["spec"]["template"]["spec"]["containers"][0]
        self.assertEqual(container["command"], ["oa-admin", "topics", "ensure"])

    def test_migrate_job_runs_oa_admin_migrate(self):
        job = next(j for j in self.of_kind("Job") if j["metadata"]["name"] == "oa-migrate")
        container = job["spec"]["template"]["spec"]["containers"][0]
        self.assertEqual(container["command"], ["oa-admin", "migrate"])
        self.assertEqual(job["spec"]["template"]["spec"]["restartPolicy"], "OnFailure")


class GatewayRoutesTest(unittest.TestCase):
    def setUp(self):
        self.http_conf = read(os.path.join(NGINX, "oa-http.conf"))
        self.routes_conf = read(os.path.join(NGINX, "oa-routes.conf"))
        self.k8s_map = next(doc for _f, doc in k8s_documents()
                            if doc["kind"] == "ConfigMap" and doc["metadata"]["name"] == "oa-gateway")

    def deployments(self):
        """(name, http-level config text with the upstreams) for each deployment."""
        return [
            ("local", read(os.path.join(LOCAL, "nginx", "nginx.conf.in"))),
            ("compose", read(os.path.join(NGINX, "gateway.conf"))),
            ("kubernetes", self.k8s_map["data"]["gateway.conf"]),
        ]

    def test_kubernetes_carries_verbatim_copies(self):
        for name, text in (("oa-http.conf", self.http_conf), ("oa-routes.conf", self.routes_conf)):
            with self.subTest(file=name):
                self.assertEqual(self.k8s_map["data"][name], text,
                                 f"compose/k8s/gateway.yaml differs from compose/nginx/{name}; paste the file there unchanged")

    def test_compose_mounts_the_shared_files(self):
        volumes = compose_file()["services"]["gateway"]["volumes"]
        for name in ("oa-http.conf", "oa-routes.conf"):
            with self.subTest(file=name):
                self.assertIn(f"./nginx/{name}:/etc/nginx/oa/{name}:ro", volumes)
        self.assertIn("./nginx/gateway.conf:/etc/nginx/conf.d/default.conf:ro", volumes)

    def test_each_deployment_includes_the_shared_files(self):
        for name, text in self.deployments():
            includes = [d[1][0] for d in find_blocks(nginx_parse(text), "include")]
            with self.subTest(deployment=name):
                self.assertTrue(any(i.endswith("/oa-http.conf") for i in includes), includes)
                self.assertTrue(any(i.endswith("/oa-routes.conf") for i in includes), includes)

    def test_each_deployment_defines_both_upstreams(self):
        expected = {
            "local": {"oa_edge": "127.0.0.1:@OA_EDGE_PORT@", "oa_query": "127.0.0.1:@OA_QUERY_PORT@"},
            "compose": {"oa_edge": "oa-edge:8080", "oa_query": "oa-query:8081"},
            "kubernetes": {"oa_edge": "oa-edge.openanalytics.svc.cluster.local:8080",
                           "oa_query": "oa-query.openanalytics.svc.cluster.local:8081"},
        }
        for name, text in self.deployments():
            upstreams = {u[1][0]: directives(u[2], "server")[0][1][0] for u in find_blocks(nginx_parse(text), "upstream")}
            with self.subTest(deployment=name):
                self.assertEqual(upstreams, expected[name])

    def test_requests_reach_the_right_daemon(self):
        router = Router(self.http_conf, self.routes_conf)
        for method, uri, want in ROUTES:
            with self.subTest(request=f"{method} {uri}"):
                self.assertEqual(router.upstream(method, uri), want)

    def test_streams_are_not_buffered(self):
        router = Router(self.http_conf, self.routes_conf)
        loc = router.location("/v1/projects/p_1/realtime/stream")
        self.assertEqual(directives(loc[2], "proxy_buffering")[0][1], ["off"])

    def test_forwarding_headers_and_keepalive(self):
        items = nginx_parse(self.routes_conf)
        headers = {d[1][0]: d[1][1] for d in directives(items, "proxy_set_header")}
        self.assertEqual(headers["X-Forwarded-For"], "$proxy_add_x_forwarded_for")
        self.assertEqual(headers["X-Real-IP"], "$remote_addr")
        self.assertIn("X-Forwarded-Proto", headers)
        self.assertEqual(headers["Connection"], "")
        self.assertEqual(directives(items, "proxy_http_version")[0][1], ["1.1"])
        self.assertEqual(directives(items, "client_max_body_size")[0][1], ["2m"])

    def test_a_backend_down_answers_unavailable_in_json(self):
        import json
        items = nginx_parse(self.routes_conf)
        pages = {}
        for _n, args, _b in directives(items, "error_page"):
            for code in args[:-1]:
                if code.isdigit():
                    pages[code] = args[-1]
        self.assertEqual(pages.get("502"), "@oa_unavailable")
        named = {loc[1][0]: loc for loc in directives(items, "location")}
        ret = directives(named["@oa_unavailable"][2], "return")[0][1]
        self.assertEqual(ret[0], "502")
        body = json.loads(ret[1].replace("\\n", ""))
        self.assertEqual(body["error"], "unavailable")
        self.assertTrue(body["message"])

    def test_local_templates_use_only_known_variables(self):
        stack = read(os.path.join(LOCAL, "stack.sh"))
        settings = set(re.findall(r"^\s+(OA_[A-Z0-9_]+)=", stack.split("SETTINGS=(")[1].split("\n)")[0], re.M))
        known = settings | {"DIR", "LOG_DIR", "REPO", "NGINX_USER_LINE"}
        for root, _dirs, files in os.walk(LOCAL):
            for name in files:
                if name.endswith(".in"):
                    path = os.path.join(root, name)
                    for var in set(re.findall(r"@([A-Z][A-Z0-9_]*)@", read(path))):
                        with self.subTest(template=os.path.relpath(path, REPO), variable=var):
                            self.assertIn(var, known)

    @unittest.skipUnless(shutil.which("nginx") or os.path.exists("/usr/sbin/nginx"), "nginx is not installed")
    def test_local_gateway_config_passes_nginx_t(self):
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        with tempfile.TemporaryDirectory() as tmp:
            values = {"DIR": tmp, "LOG_DIR": tmp, "REPO": REPO, "NGINX_USER_LINE": "",
                      "OA_GATEWAY_PORT": "18000", "OA_EDGE_PORT": "18080", "OA_QUERY_PORT": "18081"}
            text = re.sub(r"@([A-Z][A-Z0-9_]*)@", lambda m: values[m.group(1)],
                          read(os.path.join(LOCAL, "nginx", "nginx.conf.in")))
            for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
                os.makedirs(os.path.join(tmp, "tmp", sub))
            conf = os.path.join(tmp, "nginx.conf")
            with open(conf, "w", encoding="utf-8") as f:
                f.write(text)
            result = subprocess.run([nginx, "-t", "-q", "-p", tmp, "-c", conf, "-e", os.path.join(tmp, "error.log")],
                                    capture_output=True, text=True, check=False)
            self.assertEqual(result.returncode, 0, result.stderr)


def main():
    suite = unittest.defaultTestLoader.loadTestsFromModule(sys.modules[__name__])
    result = unittest.TextTestRunner(stream=sys.stdout, verbosity=2).run(suite)
    # A failing sub-test fails its test method; count methods, as testsRun does.
    failed = len({getattr(t, "test_case", t).id() for t, _ in result.failures + result.errors})
    skipped = len(result.skipped)
    passed = result.testsRun - failed - skipped
    line = f"{passed} passed, {failed} failed"
    if skipped:
        line += f", {skipped} skipped"
    print(line)
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

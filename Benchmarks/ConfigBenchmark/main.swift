// Config compile-and-sign benchmark, run by scripts/bench-config in release mode (docs/benchmarks.md).
//
// Builds N customer records in memory (a quarter pinned to each region, a quarter unpinned, one or two
// domains each, webhook secrets sealed as the coordinator stores them), then times what the coordinator does
// for every config version: compile one bundle per region (opening every secret), seal the secrets to each
// region (BundleSealing), encode each as canonical JSON, and sign it with Ed25519. Then what a node does with one
// region's signed bundle: verify and decode it, and open its secrets with the region key.
// Prints the medians and spread over the rounds as JSON.
import Crypto
import Foundation
import MeridianCoordinator
import Synchronization
import MeridianCore

let arguments = CommandLine.arguments
func option(_ name: String, _ fallback: Int) -> Int {
    guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count, let value = Int(arguments[index + 1]) else { return fallback }
    return value
}
let count = option("--customers", 100_000)
let rounds = option("--rounds", 5)
let regionsDirectory = arguments.firstIndex(of: "--regions").map { arguments[$0 + 1] } ?? "Regions"

let catalog = try RegionCatalog.load(directory: regionsDirectory)
// `--seed DATA_DIR`: fills a stopped coordinator's database instead (Benchmarks/config/propagation.py --customers).
if let index = arguments.firstIndex(of: "--seed"), index + 1 < arguments.count {
    try await seed(dataDirectory: arguments[index + 1], count: count, catalog: catalog)
    exit(0)
}
let secrets = SecretBox(keyBytes: SecretBox.generateKeyBytes())!
let pins: [RegionID?] = catalog.regions.map(\.id) + [nil]
let created = Date()
var customers: [CustomerRecord] = []
customers.reserveCapacity(count)
for index in 0..<count {
    let id = String(format: "cus_%08d", index)
    let domains = (0..<(index % 2 + 1)).map { CustomerDomain(domain: "d\($0).customer\(index).example", verificationToken: "t\(index)") }
    customers.append(CustomerRecord(
        id: id, name: "Customer \(index)", contactEmail: "ops@customer\(index).example", region: pins[index % pins.count],
        domains: domains, webhookURL: "https://hooks.customer\(index).example/meridian", webhookMode: index % 3 == 0 ? .sync : .queued,
        webhookSecretSealed: try secrets.seal(WebhookSecret.generate()), metadataRedactions: index % 5 == 0 ? [.subject] : [],
        status: .active, createdAt: created, updatedAt: created, closedAt: nil, purgeAfter: nil))
}

let compiler = ConfigCompiler(catalog: catalog, secrets: secrets)
let regionKeys = RegionKeys(secrets: secrets)
let key = Curve25519.Signing.PrivateKey()
var compile: [Double] = []
var sign: [Double] = []
var bytes = 0
for round in 0..<rounds {
    let start = ContinuousClock.now
    let bundles = try compiler.compile(customers, version: round + 1)
    let compiled = ContinuousClock.now
    bytes = try ConfigCompiler.sign(bundles, with: key, sealingTo: regionKeys).reduce(0) { $0 + $1.count }
    let done = ContinuousClock.now
    func seconds(_ duration: Duration) -> Double { Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18 }
    compile.append(seconds(compiled - start))
    sign.append(seconds(done - compiled))
}
func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }

// What a node does with the first region's bundle when it arrives: decode the envelope, check the signature,
// decode and validate the bundle (`SignedBundle.verify`).
let first = try ConfigCompiler.sign(try compiler.compile(customers, version: 1), with: key, sealingTo: regionKeys)[0]
let regionKey = regionKeys.privateKey(for: catalog.regions[0].id)
var apply: [Double] = []
for _ in 0..<rounds {
    let start = ContinuousClock.now
    _ = try JSONDecoder().decode(SignedBundle.self, from: first).verify(with: key.publicKey, region: catalog.regions[0].id)
        .openingSecrets(with: regionKey)
    let elapsed = ContinuousClock.now - start
    apply.append(Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
}
let total = zip(compile, sign).map { $0 + $1 }

// What the leader does besides for a full version: the content digest, summed resource by resource (before the
// version is stored), and every region kept as resources (`CompiledConfig`, after), which a change of one customer
// then updates.
func seconds(since start: ContinuousClock.Instant) -> Double {
    let elapsed = ContinuousClock.now - start
    return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
}
var keep: [Double] = []
var digestNow: [Double] = []
var state = try CompiledConfig(try compiler.compile(customers, version: 1), registry: .init(), version: 1)
for _ in 0..<rounds {
    let bundles = try compiler.compile(customers, version: 1)
    var start = ContinuousClock.now
    let (_, sums) = CompiledConfig.contentDigest(bundles)
    digestNow.append(seconds(since: start))
    start = ContinuousClock.now
    _ = try CompiledConfig(bundles, registry: .init(), version: 1, customers: count, sums: sums)
    keep.append(seconds(since: start))
}

// What the publisher did for every version before deltas, besides compiling and signing: the SHA-256 of every
// bundle's canonical JSON, its content digest. And what it does now to sign snapshots from the kept state.
var digestBefore: [Double] = []
var materialize: [Double] = []
for _ in 0..<rounds {
    let bundles = try compiler.compile(customers, version: 1)
    var start = ContinuousClock.now
    // As the publisher did: each bundle's JSON on its own core, then one hash over them in order.
    let parts = Mutex([[UInt8]](repeating: [], count: bundles.count))
    DispatchQueue.concurrentPerform(iterations: bundles.count) { index in
        let bytes = bundles[index].canonicalJSON()
        parts.withLock { $0[index] = bytes }
    }
    var hasher = SHA256()
    for bytes in parts.withLock({ $0 }) { hasher.update(data: bytes) }
    _ = hasher.finalize()
    digestBefore.append(seconds(since: start))
    start = ContinuousClock.now
    _ = try state.snapshots()
    materialize.append(seconds(since: start))
}

// A change of one customer's webhook: compiled alone, a delta for each region, sealed and signed.
var change: [Double] = []
var deltaBytes: [Int] = []
var lastDeltas: [RegionID: NodeBundleDelta] = [:]
for round in 0..<max(rounds, 20) {
    var record = customers[round * 7919 % count]
    record.webhookURL = "https://hooks.example/changed/\(round)"
    let start = ContinuousClock.now
    let deltas = try state.apply([record.id: record], compiler: compiler)
    _ = state.digest
    let signed = try deltas.values.map { delta in
        let sealed = delta.customers.isEmpty ? delta : try delta.sealingSecrets(with: try regionKeys.sealer(for: delta.region))
        return try SignedBundle.signedJSON(canonical: sealed.canonicalJSON(), with: key)
    }
    change.append(seconds(since: start))
    deltaBytes.append(signed.reduce(0) { $0 + $1.count })
    lastDeltas = deltas
}

// A node of the first region: its directory built from the snapshot, and one delta applied (its memory is measured
// on real nodes, by Benchmarks/config/propagation.py).
let region = catalog.regions[0].id
let opened = try JSONDecoder().decode(SignedBundle.self, from: first).verify(with: key.publicKey, region: region).openingSecrets(with: regionKey)
var start = ContinuousClock.now
var directory = RecipientDirectory(opened)
let build = seconds(since: start)
var applyDelta: [Double] = []
state = try CompiledConfig(try compiler.compile(customers, version: 1), registry: .init(), version: 1)
for round in 0..<max(rounds, 20) {
    var record = customers[(round * 104_729 + 1) % count]
    record.webhookURL = "https://hooks.example/node/\(round)"
    let delta = try state.apply([record.id: record], compiler: compiler)[region]!
    start = ContinuousClock.now
    directory = try directory.applying(delta)
    applyDelta.append(seconds(since: start))
}
_ = lastDeltas
let result: [String: Any] = [
    "customers": count, "regions": catalog.regions.count, "rounds": rounds, "signed_bundle_bytes": bytes,
    "compile_median_s": median(compile), "encode_and_sign_median_s": median(sign), "total_median_s": median(total),
    "total_min_s": total.min()!, "total_max_s": total.max()!,
    "node_verify_and_decode_one_region_median_s": median(apply), "one_region_signed_bytes": first.count,
    "content_digest_median_s": median(digestNow), "keep_resources_median_s": median(keep),
    "digest_before_deltas_median_s": median(digestBefore),
    "snapshots_from_kept_state_median_s": median(materialize),
    "one_customer_change_compile_and_sign_median_ms": median(change) * 1000, "one_customer_change_max_ms": change.max()! * 1000,
    "one_customer_change_signed_bytes_all_regions_median": deltaBytes.sorted()[deltaBytes.count / 2],
    "node_directory_build_one_region_s": build,
    "node_directory_customers": directory.customerCount,
    "node_apply_one_customer_delta_median_ms": median(applyDelta) * 1000, "node_apply_one_customer_delta_max_ms": applyDelta.max()! * 1000,
]
print(String(decoding: try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys]), as: UTF8.self))

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
let result: [String: Any] = [
    "customers": count, "regions": catalog.regions.count, "rounds": rounds, "signed_bundle_bytes": bytes,
    "compile_median_s": median(compile), "encode_and_sign_median_s": median(sign), "total_median_s": median(total),
    "total_min_s": total.min()!, "total_max_s": total.max()!,
    "node_verify_and_decode_one_region_median_s": median(apply), "one_region_signed_bytes": first.count,
]
print(String(decoding: try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys]), as: UTF8.self))

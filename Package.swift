// swift-tools-version:6.0
import PackageDescription

// Versions are pinned to what the machine's local package mirror carries (see the env notes).
let package = Package(
    name: "Duet",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "duet", targets: ["duet"]),
        .library(name: "DuetFS", targets: ["DuetFS"]),
        .library(name: "DuetScrub", targets: ["DuetScrub"]),
        .library(name: "DuetSend", targets: ["DuetSend"]),
        .library(name: "DuetWatch", targets: ["DuetWatch"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.0"),
        .package(url: "https://github.com/apple/swift-system", from: "1.4.0"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.1.0")
    ],
    targets: [
        // C only where Swift cannot reach: uapi headers, ioctl numbers, hardware CRC32C.
        .target(name: "CDuet"),
        .systemLibrary(name: "CBtrfsUtil", pkgConfig: "libbtrfsutil", providers: [.apt(["libbtrfsutil-dev"])]),
        .systemLibrary(name: "CXXHash", pkgConfig: "libxxhash", providers: [.apt(["libxxhash-dev"])]),
        .systemLibrary(name: "CSodium", pkgConfig: "libsodium", providers: [.apt(["libsodium-dev"])]),
        .systemLibrary(name: "CLibbpf", pkgConfig: "libbpf", providers: [.apt(["libbpf-dev"])]),
        // The eBPF page-cache probes: BPF C source, its committed skeleton, and a small loader.
        .target(name: "CDuetBPF", dependencies: ["CLibbpf"], exclude: ["bpf", "README.md"]),
        .target(
            name: "DuetFS",
            dependencies: [
                "CDuet", "CDuetBPF", "CBtrfsUtil", "CXXHash", "CSodium",
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Collections", package: "swift-collections")
            ],
            exclude: ["README.md", "Hub/README.md", "Ledger/README.md", "Mapping/README.md", "System/README.md", "Watch/README.md"]
        ),
        .target(
            name: "DuetScrub", dependencies: ["DuetFS", .product(name: "SystemPackage", package: "swift-system")], exclude: ["README.md"]),
        .target(
            name: "DuetSend",
            dependencies: [
                "DuetFS", .product(name: "Logging", package: "swift-log"), .product(name: "SystemPackage", package: "swift-system")
            ], exclude: ["README.md", "Stream/README.md", "Paths/README.md", "Plan/README.md"]),
        // `duet watch` as a task: source choice, the per-file-system session, watch.json, rates.
        .target(
            name: "DuetWatch", dependencies: ["DuetFS", .product(name: "SystemPackage", package: "swift-system")], exclude: ["README.md"]),
        .executableTarget(
            name: "duet",
            dependencies: [
                "DuetFS", "DuetScrub", "DuetSend", "DuetWatch",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "SystemPackage", package: "swift-system")
            ]
        ),
        // Creates and always tears down loop-backed btrfs file systems for integration tests.
        .target(
            name: "DuetTestSupport", dependencies: ["DuetFS", .product(name: "SystemPackage", package: "swift-system")],
            path: "Tests/DuetTestSupport"),
        .testTarget(name: "DuetFSTests", dependencies: ["DuetFS", "CDuet", "DuetTestSupport"], resources: [.copy("Fixtures")]),
        .testTarget(name: "DuetFSIntegrationTests", dependencies: ["DuetFS", "DuetTestSupport", "CDuet"]),
        .testTarget(
            name: "DuetCLITests", dependencies: ["duet", "DuetFS", "DuetScrub", "DuetSend", "DuetWatch", "DuetTestSupport", "CDuet"]),
        .testTarget(
            name: "DuetCLIIntegrationTests", dependencies: ["duet", "DuetFS", "DuetScrub", "DuetWatch", "DuetTestSupport", "CDuet"]),
        .testTarget(name: "DuetScrubTests", dependencies: ["DuetScrub", "DuetFS", "DuetTestSupport"]),
        .testTarget(name: "DuetScrubIntegrationTests", dependencies: ["DuetScrub", "DuetFS", "DuetTestSupport"]),
        .testTarget(name: "DuetWatchTests", dependencies: ["DuetWatch", "DuetFS"]),
        .testTarget(name: "DuetSendTests", dependencies: ["DuetSend", "DuetFS", "DuetTestSupport", "duet"], resources: [.copy("Fixtures")]),
        .testTarget(name: "DuetSendIntegrationTests", dependencies: ["DuetSend", "DuetFS", "DuetTestSupport", "duet"])
    ],
    swiftLanguageModes: [.v6]
)

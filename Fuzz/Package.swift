// swift-tools-version:6.0
import PackageDescription

// libFuzzer targets, in their own package so `--sanitize=fuzzer` never touches the main package's
// ordinary executables. See README.md for the commands.
let package = Package(
    name: "SolidIPCFuzz",
    dependencies: [
        .package(name: "SolidIPC", path: ".."),
    ],
    targets: [
        .target(
            name: "FuzzSamples",
            dependencies: [
                .product(name: "SolidEngine", package: "SolidIPC"),
                .product(name: "SolidIPCSnappy", package: "SolidIPC"),
            ],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        .executableTarget(name: "FuzzReader", dependencies: ["FuzzSamples"], swiftSettings: [.swiftLanguageMode(.v6)]),
        .executableTarget(name: "FuzzHello", dependencies: ["FuzzSamples", .product(name: "SolidIPCSnappy", package: "SolidIPC")],
                          swiftSettings: [.swiftLanguageMode(.v6)]),
        .executableTarget(name: "FuzzConnection", dependencies: ["FuzzSamples", .product(name: "SolidIPCSnappy", package: "SolidIPC")],
                          swiftSettings: [.swiftLanguageMode(.v6)]),
        .executableTarget(
            name: "FuzzProxy", dependencies: [.product(name: "SolidReactor", package: "SolidIPC")],
            swiftSettings: [.swiftLanguageMode(.v6)]),
        .executableTarget(name: "MakeCorpus", dependencies: ["FuzzSamples"], swiftSettings: [.swiftLanguageMode(.v6)]),
    ]
)

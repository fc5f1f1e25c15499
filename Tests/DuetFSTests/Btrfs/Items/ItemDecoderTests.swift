import DuetFS
import Testing

/// Every decoder, run on items captured from a real file system, must agree with what
/// btrfs-progs' dump-tree printed for the same items.
@Suite struct ItemDecoderTests {
    static let trees: [UInt64] = [1, 2, 3, 4, 5, 7, 256]

    @Test("captured items line up with dump-tree's, key by key", arguments: trees)
    func itemsLineUp(tree: UInt64) throws {
        let fixture = try ItemFixture(tree: tree)
        #expect(!fixture.raw.isEmpty)
        #expect(fixture.raw.count == fixture.dumped.count)
        for (raw, dumped) in zip(fixture.raw, fixture.dumped) {
            #expect(ItemFixture.objectID(dumped.objectID) == raw.key.objectID, "\(raw.key)")
            #expect(dumped.size == raw.data.count, "\(raw.key)")
            let ours = raw.key.description.split(separator: " ")[1]
            if UInt8(ours) == nil { #expect(String(ours) == dumped.typeName, "\(raw.key)") }
        }
    }

    func pairs(_ tree: UInt64, _ type: UInt8) throws -> [(ItemFixture.Raw, ItemFixture.Dumped)] {
        let fixture = try ItemFixture(tree: tree)
        let matched = zip(fixture.raw, fixture.dumped).filter { $0.0.key.type == type }
        return matched
    }

    @Test func inodeItems() throws {
        let items = try pairs(5, ItemType.inodeItem) + pairs(256, ItemType.inodeItem)
        #expect(items.count > 10)
        for (raw, dumped) in items {
            let inode = try InodeItem(bytes: raw.data)
            #expect(inode.generation == dumped.value("generation"))
            #expect(inode.transid == dumped.value("transid"))
            #expect(inode.size == dumped.value("size"))
            #expect(inode.nbytes == dumped.value("nbytes"))
            #expect(UInt64(inode.nlink) == dumped.value("links"))
            #expect(UInt64(inode.uid) == dumped.value("uid"))
            #expect(String(inode.mode, radix: 8) == String(dumped.value("mode")!))
            #expect(inode.sequence == dumped.value("sequence"))
            #expect(dumped.text.contains("atime \(inode.atime.seconds).\(inode.atime.nanoseconds)"))
            #expect(dumped.text.contains("mtime \(inode.mtime.seconds).\(inode.mtime.nanoseconds)"))
        }
    }

    @Test func inodeRefs() throws {
        var names = 0
        for (raw, dumped) in try pairs(5, ItemType.inodeRef) {
            let refs = try InodeRef.decode(key: raw.key, bytes: raw.data)
            #expect(refs.count == dumped.lines.count)
            for (ref, line) in zip(refs, dumped.lines) {
                #expect(line == "index \(ref.index) namelen \(ref.name.utf8.count) name: \(ref.name)")
                names += 1
            }
        }
        #expect(names > 10)
    }

    @Test func dirItems() throws {
        let items = try pairs(5, ItemType.dirItem) + pairs(5, ItemType.dirIndex) + pairs(5, ItemType.xattrItem)
        #expect(items.count > 20)
        for (raw, dumped) in items {
            let entries = try DirItem.decode(bytes: raw.data)
            #expect(entries.count == 1)
            let entry = entries[0]
            #expect(entry.transid == dumped.value("transid"))
            #expect(UInt64(entry.data.count) == dumped.value("data_len"))
            #expect(dumped.text.contains("name: \(entry.name)"))
            #expect(
                dumped.text.contains("location key (")
                    && ItemFixture.objectID(
                        String(dumped.lines[0].split(separator: "(")[1].split(separator: " ")[0])) == entry.location.objectID
            )
        }
        let xattr = try #require(try pairs(5, ItemType.xattrItem).first)
        let decoded = try DirItem.decode(bytes: xattr.0.data)[0]
        #expect(decoded.name == "user.duet")
        #expect(decoded.data == Array("fixture".utf8))
    }

    @Test func fileExtents() throws {
        var kinds: Set<String> = []
        for (raw, dumped) in try pairs(5, ItemType.extentData) + pairs(256, ItemType.extentData) {
            let extent = try FileExtentItem(key: raw.key, bytes: raw.data)
            #expect(extent.generation == dumped.value("generation"))
            switch extent.kind {
            case .inline:
                #expect(UInt64(extent.inlineData.count) == dumped.value("size"))
                #expect(extent.ramBytes == dumped.value("ram_bytes"))
                kinds.insert("inline")
            case .regular:
                #expect(extent.diskBytenr == dumped.value("byte", after: "disk"))
                #expect(extent.diskNumBytes == dumped.value("nr", after: "disk byte"))
                #expect(extent.offset == dumped.value("offset", after: "extent data"))
                #expect(extent.numBytes == dumped.value("nr", after: "extent data offset"))
                #expect(extent.ramBytes == dumped.value("ram"))
                #expect(UInt64(extent.compression.rawValue) == dumped.value("compression"))
                kinds.insert(extent.compression == .none ? "regular" : "compressed")
            case .prealloc:
                #expect(extent.diskBytenr == dumped.value("byte", after: "prealloc data disk"))
                #expect(extent.numBytes == dumped.value("nr", after: "prealloc data offset"))
                kinds.insert("prealloc")
            }
        }
        #expect(kinds == ["inline", "regular", "compressed", "prealloc"])
    }

    @Test func rootItemsAndRefs() throws {
        let roots = try pairs(1, ItemType.rootItem)
        #expect(roots.count >= 8)
        for (raw, dumped) in roots {
            let root = try RootItem(bytes: raw.data)
            #expect(root.generation == dumped.value("generation"))
            #expect(root.bytenr == dumped.value("bytenr"))
            #expect(root.bytesUsed == dumped.value("bytes_used"))
            #expect(UInt64(root.level) == dumped.value("level"))
            #expect(root.ctransid == dumped.value("ctransid"))
            #expect(root.otransid == dumped.value("otransid"))
            #expect(dumped.text.contains("\nuuid \(UUIDText.format(root.uuid))"))
            #expect(dumped.text.contains("parent_uuid \(UUIDText.format(root.parentUUID))"))
        }
        let snapshot = try #require(roots.first { $0.0.key.objectID == 257 })
        #expect(try RootItem(bytes: snapshot.0.data).isReadOnly)
        let refs = try pairs(1, ItemType.rootRef) + pairs(1, ItemType.rootBackref)
        #expect(refs.count == 4)
        for (raw, dumped) in refs {
            let ref = try RootRef(key: raw.key, bytes: raw.data)
            #expect(ref.directory == dumped.value("dirid"))
            #expect(ref.sequence == dumped.value("sequence"))
            #expect(dumped.text.hasSuffix("name \(ref.name)"))
        }
    }

    @Test func extentItems() throws {
        let fixture = try ItemFixture(tree: 2)
        let nodeSize: UInt64 = 16384
        var data = 0, tree = 0
        for (raw, dumped) in zip(fixture.raw, fixture.dumped) where [ItemType.extentItem, ItemType.metadataItem].contains(raw.key.type) {
            let extent = try ExtentItem(key: raw.key, bytes: raw.data, nodeSize: nodeSize)
            #expect(extent.references == dumped.value("refs"))
            #expect(extent.generation == dumped.value("gen"))
            #expect(extent.isTreeBlock == dumped.text.contains("flags TREE_BLOCK"))
            if extent.isTreeBlock {
                tree += 1
                #expect(UInt64(extent.level!) == dumped.value("level"))
                #expect(extent.length == nodeSize)
                let owner = dumped.lines.first { $0.hasPrefix("tree block backref root ") }!.split(separator: " ").last!
                #expect(extent.backReferences == [.treeBlock(root: ItemFixture.objectID(String(owner))!)])
            } else {
                data += 1
                #expect(extent.length == raw.key.offset)
                let lines = dumped.lines.filter { $0.hasPrefix("extent data backref") }
                #expect(lines.count == extent.backReferences.count)
                for (reference, line) in zip(extent.backReferences, lines) {
                    let words = line.split(separator: " ").map(String.init)
                    guard case .data(let root, let inode, let offset, let count) = reference else {
                        Issue.record("expected a data back reference in \(line)")
                        continue
                    }
                    #expect(root == ItemFixture.objectID(words[4]))
                    #expect(inode == UInt64(words[6]))
                    #expect(offset == UInt64(words[8]))
                    #expect(UInt64(count) == UInt64(words[10]))
                }
            }
        }
        #expect(data >= 4 && tree >= 5)
        for (raw, dumped) in zip(fixture.raw, fixture.dumped) where raw.key.type == ItemType.blockGroupItem {
            let group = try BlockGroupItem(key: raw.key, bytes: raw.data)
            #expect(group.used == dumped.value("used"))
            let flags = dumped.text.split(separator: " ").last!.lowercased()
            #expect(flags == "\(group.flags.typeName.lowercased())|\(group.flags.profile.name)")
        }
    }

    @Test func chunkDevExtentAndDevItems() throws {
        let chunks = try pairs(3, ItemType.chunkItem)
        #expect(chunks.count >= 3)
        var stripeCount = 0
        for (raw, dumped) in chunks {
            let chunk = try ChunkItem(logical: raw.key.offset, bytes: raw.data)
            #expect(chunk.length == dumped.value("length"))
            #expect(chunk.owner == dumped.value("owner"))
            #expect(chunk.stripeLength == dumped.value("stripe_len"))
            #expect(UInt64(chunk.stripes.count) == dumped.value("num_stripes"))
            #expect(UInt64(chunk.subStripes) == dumped.value("sub_stripes"))
            stripeCount += chunk.stripes.count
            for (index, stripe) in chunk.stripes.enumerated() {
                #expect(dumped.text.contains("stripe \(index) devid \(stripe.deviceID) offset \(stripe.offset)"))
                #expect(dumped.text.contains("dev_uuid \(UUIDText.format(stripe.deviceUUID))"))
            }
        }
        for (raw, dumped) in try pairs(3, ItemType.devItem) {
            let device = try DevItem(bytes: raw.data)
            #expect(device.deviceID == dumped.value("devid"))
            #expect(device.totalBytes == dumped.value("total_bytes"))
            #expect(device.bytesUsed == dumped.value("bytes_used"))
        }
        let extents = try pairs(4, ItemType.devExtent)
        // Every stripe of every chunk is one device extent.
        #expect(extents.count == stripeCount)
        for (raw, dumped) in extents {
            let extent = try DevExtent(key: raw.key, bytes: raw.data)
            #expect(extent.chunkOffset == dumped.value("chunk_offset"))
            #expect(extent.length == dumped.value("length"))
            #expect(extent.chunkTree == dumped.value("chunk_tree"))
        }
    }

    @Test func csumItems() throws {
        let items = try pairs(7, ItemType.extentCsum)
        #expect(!items.isEmpty)
        for (raw, dumped) in items {
            let csums = try CsumItem(key: raw.key, bytes: raw.data, checksumSize: 4)
            let range = csums.range(sectorSize: 4096)
            #expect(UInt64(range.lowerBound) == dumped.value("start"))
            #expect(UInt64(range.upperBound) == dumped.value("end"))
        }
    }

    @Test("truncated items throw instead of trapping")
    func truncatedItemsThrow() throws {
        let (raw, _) = try #require(try pairs(3, ItemType.chunkItem).first)
        #expect(throws: DuetError.self) { try ChunkItem(logical: raw.key.offset, bytes: Array(raw.data.prefix(60))) }
        #expect(throws: DuetError.self) { try InodeItem(bytes: [UInt8](repeating: 0, count: 100)) }
        #expect(throws: DuetError.self) {
            try FileExtentItem(
                key: BtrfsKey(257, 108, 0), bytes: [UInt8](repeating: 0, count: 30).enumerated().map { $0.offset == 20 ? 1 : 0 })
        }
        #expect(throws: DuetError.self) { try CsumItem(key: BtrfsKey(0, 128, 0), bytes: [1, 2, 3], checksumSize: 4) }
    }
}

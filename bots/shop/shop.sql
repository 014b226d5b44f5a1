-- Seed data of the shop assistant bot. Loaded into an in-memory SQLite database when the
-- bot starts (see shop_tools.py), so every run starts from the same state.

CREATE TABLE products (
    sku         TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    description TEXT NOT NULL,
    price_cents INTEGER NOT NULL,
    stock       INTEGER NOT NULL
);

CREATE TABLE orders (
    order_id        TEXT PRIMARY KEY,
    customer        TEXT NOT NULL,
    placed_on       TEXT NOT NULL,          -- ISO date
    status          TEXT NOT NULL,          -- processing | shipped | delivered | cancelled
    tracking_number TEXT
);

CREATE TABLE order_items (
    order_id TEXT NOT NULL REFERENCES orders(order_id),
    sku      TEXT NOT NULL REFERENCES products(sku),
    quantity INTEGER NOT NULL
);

CREATE TABLE shipments (
    tracking_number    TEXT PRIMARY KEY,
    carrier            TEXT NOT NULL,
    status             TEXT NOT NULL,
    last_location      TEXT NOT NULL,
    estimated_delivery TEXT NOT NULL,       -- ISO date
    carrier_latency_ms INTEGER NOT NULL     -- how long the carrier's tracking service takes to answer
);

INSERT INTO products VALUES
    ('TR-3', 'Trail Runner 3', 'Trail running shoe with a rock plate and a grippy outsole', 12000, 14),
    ('RD-9', 'Road Racer 9', 'Light road running shoe for races and tempo runs', 14000, 6),
    ('HK-2', 'Hiker Mid 2', 'Waterproof mid-cut hiking boot for trail and mountain walks', 16000, 0),
    ('WB-1', 'Insulated water bottle', 'Keeps drinks cold for 24 hours, 750 ml', 1800, 40),
    ('SK-5', 'Running socks, 3 pack', 'Cushioned merino running socks for road and trail', 2400, 25);

INSERT INTO orders VALUES
    ('A1001', 'Dana Whitfield', '2026-11-16', 'shipped', '1Z999AA10123456784'),
    ('A1002', 'Dana Whitfield', '2026-11-19', 'processing', NULL),
    ('A1003', 'Sam Okafor', '2026-11-02', 'delivered', '1Z999AA10123456785'),
    ('A1004', 'Lee Marsh', '2026-11-18', 'shipped', 'PN-40077');

INSERT INTO order_items VALUES
    ('A1001', 'RD-9', 1),
    ('A1001', 'SK-5', 2),
    ('A1002', 'WB-1', 1),
    ('A1003', 'TR-3', 1),
    ('A1004', 'HK-2', 1);

INSERT INTO shipments VALUES
    ('1Z999AA10123456784', 'UPS', 'in transit', 'Louisville, KY', '2026-11-21', 40),
    ('1Z999AA10123456785', 'UPS', 'delivered', 'Portland, OR', '2026-11-05', 35),
    ('PN-40077', 'Parcelnet', 'unknown', 'unknown', '2026-11-24', 5000);

"""Fixed vocabularies of the demo brand: names, places, products and content.

Everything here is plain data; the generator samples indices into these tuples with NumPy and
turns them into Arrow strings with ``take``, so no text is formatted per row.
"""

from __future__ import annotations

import numpy as np

# --- people --------------------------------------------------------------------------------

SURNAMES: tuple[str, ...] = tuple(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏"
    "魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚"
    "邵万钱严覃武戴莫孔向汤"
)
"""Common Chinese surnames, most frequent first (sampled with Zipf-like weights)."""

GIVEN_FEMALE: tuple[str, ...] = tuple(
    "婷静敏燕艳娟霞芳丽娜雪琳玲欣怡佳悦梦琪雨涵萱诗颖晶倩慧洁瑶蕾薇妍思可馨月晓文"
)
GIVEN_MALE: tuple[str, ...] = tuple(
    "伟强磊军勇杰涛斌超明刚平辉鹏华飞鑫波宇浩凯健俊帆帅旭宁龙林阳博天子轩晨嘉铭"
)

# --- places --------------------------------------------------------------------------------

CITIES: tuple[tuple[str, str, str, float], ...] = (
    # city, province, sales region, weight
    ("上海", "上海", "华东", 10), ("北京", "北京", "华北", 9), ("广州", "广东", "华南", 7),
    ("深圳", "广东", "华南", 7), ("杭州", "浙江", "华东", 6), ("成都", "四川", "西南", 6),
    ("南京", "江苏", "华东", 5), ("武汉", "湖北", "华中", 5), ("重庆", "重庆", "西南", 5),
    ("苏州", "江苏", "华东", 5), ("西安", "陕西", "西北", 4), ("天津", "天津", "华北", 4),
    ("长沙", "湖南", "华中", 4), ("郑州", "河南", "华中", 3), ("青岛", "山东", "华东", 3),
    ("宁波", "浙江", "华东", 3), ("厦门", "福建", "华东", 3), ("福州", "福建", "华东", 2),
    ("合肥", "安徽", "华东", 3), ("济南", "山东", "华东", 3), ("沈阳", "辽宁", "东北", 2),
    ("大连", "辽宁", "东北", 2), ("哈尔滨", "黑龙江", "东北", 2), ("长春", "吉林", "东北", 2),
    ("昆明", "云南", "西南", 2), ("南宁", "广西", "华南", 2), ("东莞", "广东", "华南", 3),
    ("佛山", "广东", "华南", 3), ("无锡", "江苏", "华东", 3), ("石家庄", "河北", "华北", 2),
    ("太原", "山西", "华北", 2), ("南昌", "江西", "华中", 2), ("贵阳", "贵州", "西南", 2),
    ("兰州", "甘肃", "西北", 1), ("乌鲁木齐", "新疆", "西北", 1), ("呼和浩特", "内蒙古", "华北", 1),
    ("海口", "海南", "华南", 1), ("温州", "浙江", "华东", 2), ("泉州", "福建", "华东", 2),
)
CITY_NAMES: tuple[str, ...] = tuple(c[0] for c in CITIES)
CITY_PROVINCES: tuple[str, ...] = tuple(c[1] for c in CITIES)
CITY_REGIONS: tuple[str, ...] = tuple(c[2] for c in CITIES)
CITY_WEIGHTS: np.ndarray = np.array([c[3] for c in CITIES], dtype=float) / sum(c[3] for c in CITIES)

MALLS: tuple[str, ...] = (
    "万象城", "大悦城", "万达广场", "银泰城", "龙湖天街", "吾悦广场", "印象城", "凯德广场", "来福士",
    "太古里", "恒隆广场", "国金中心", "K11", "德基广场", "新世界百货", "王府井百货", "天虹", "SKP",
    "环球港", "正佳广场", "宝龙广场", "万科广场", "华润万家", "步行街",
)

# --- products ------------------------------------------------------------------------------

CATEGORIES: tuple[tuple[str, float, float, float], ...] = (
    # category, purchase cycle (days), gross margin, share of consumers preferring it
    ("护肤", 45, 0.62, 0.30),
    ("彩妆", 60, 0.58, 0.15),
    ("个护", 35, 0.48, 0.15),
    ("零食", 20, 0.40, 0.20),
    ("母婴", 30, 0.42, 0.12),
    ("保健", 60, 0.56, 0.08),
)
CATEGORY_NAMES: tuple[str, ...] = tuple(c[0] for c in CATEGORIES)
CATEGORY_CYCLE_DAYS: np.ndarray = np.array([c[1] for c in CATEGORIES], dtype=float)
CATEGORY_MARGIN: np.ndarray = np.array([c[2] for c in CATEGORIES], dtype=float)
CATEGORY_SHARE: np.ndarray = np.array([c[3] for c in CATEGORIES], dtype=float)

PRODUCTS: tuple[tuple[str, int, str, float], ...] = (
    # sku, category index, product name (documentation only), unit price in yuan
    ("HF001", 0, "氨基酸洁面", 89.0), ("HF002", 0, "保湿爽肤水", 139.0),
    ("HF003", 0, "修护乳液", 169.0), ("HF004", 0, "补水面膜10片", 99.0),
    ("HF005", 0, "清透防晒霜", 149.0), ("HF006", 0, "抗皱眼霜", 239.0),
    ("HF007", 0, "舒缓面霜", 269.0), ("HF008", 0, "小棕瓶精华", 329.0),
    ("HF009", 0, "精华油", 399.0), ("HF010", 0, "护肤礼盒套装", 599.0),
    ("CZ001", 1, "自然眉笔", 69.0), ("CZ002", 1, "纤长睫毛膏", 129.0),
    ("CZ003", 1, "柔雾腮红", 139.0), ("CZ004", 1, "丝绒口红", 159.0),
    ("CZ005", 1, "控油散粉", 179.0), ("CZ006", 1, "大地色眼影盘", 199.0),
    ("CZ007", 1, "水光气垫", 229.0), ("CZ008", 1, "持妆粉底液", 259.0),
    ("GH001", 2, "洗手液", 25.9), ("GH002", 2, "美白牙膏", 29.9),
    ("GH003", 2, "滋润护手霜", 39.0), ("GH004", 2, "香氛沐浴露", 59.0),
    ("GH005", 2, "无硅油洗发水", 69.0), ("GH006", 2, "修护护发素", 69.0),
    ("GH007", 2, "烟酰胺身体乳", 89.0),
    ("LS001", 3, "辣条", 12.9), ("LS002", 3, "海苔", 15.9), ("LS003", 3, "黄油饼干", 19.9),
    ("LS004", 3, "芒果干", 29.9), ("LS005", 3, "黑巧克力", 39.9), ("LS006", 3, "牛肉干", 45.0),
    ("LS007", 3, "每日坚果", 59.9), ("LS008", 3, "坚果礼包", 89.0),
    ("MY001", 4, "儿童牙膏", 29.9), ("MY002", 4, "婴儿湿巾", 39.9), ("MY003", 4, "宝宝米粉", 69.0),
    ("MY004", 4, "防胀气奶瓶", 99.0), ("MY005", 4, "婴儿纸尿裤", 139.0),
    ("MY006", 4, "婴儿洗护套装", 159.0),
    ("BJ001", 5, "钙片", 109.0), ("BJ002", 5, "维生素C", 129.0), ("BJ003", 5, "益生菌", 199.0),
    ("BJ004", 5, "深海鱼油", 239.0), ("BJ005", 5, "胶原蛋白肽", 299.0),
)
"""The catalogue; within a category products are ordered by price (cheap first)."""

GIFT_SKUS: tuple[str, ...] = ("GIFT01", "GIFT02")
"""¥0 trial pack (试用装) and member welcome box (会员礼盒)."""
GIFT_CATEGORY = "赠品"

SKUS: tuple[str, ...] = tuple(p[0] for p in PRODUCTS) + GIFT_SKUS
SKU_CATEGORY: np.ndarray = np.array([p[1] for p in PRODUCTS] + [len(CATEGORIES)] * 2)
SKU_PRICE_CENTS: np.ndarray = np.array([round(p[3] * 100) for p in PRODUCTS] + [0, 0])
SKU_CATEGORY_NAMES: tuple[str, ...] = CATEGORY_NAMES + (GIFT_CATEGORY,)
SKU_MARGIN: np.ndarray = np.concatenate([CATEGORY_MARGIN, [0.0]])[SKU_CATEGORY]

# per category: first sku index and count (products are grouped by category)
CATEGORY_FIRST_SKU: np.ndarray = np.array(
    [min(i for i, p in enumerate(PRODUCTS) if p[1] == c) for c in range(len(CATEGORIES))]
)
CATEGORY_SKU_COUNT: np.ndarray = np.array(
    [sum(1 for p in PRODUCTS if p[1] == c) for c in range(len(CATEGORIES))]
)

# --- content -------------------------------------------------------------------------------

ARTICLES: tuple[str, ...] = tuple(f"art-{i:04d}" for i in range(1, 301))
VIDEOS: tuple[str, ...] = tuple(f"vid-{i:04d}" for i in range(1, 121))
PRODUCT_PAGES: tuple[str, ...] = tuple(f"sku-{p[0]}" for p in PRODUCTS)
CONTENT_IDS: tuple[str, ...] = ARTICLES + VIDEOS + PRODUCT_PAGES
"""Every content id; articles, then videos, then product pages."""
CONTENT_RANGES: dict[str, tuple[int, int]] = {
    "article": (0, len(ARTICLES)),
    "video": (len(ARTICLES), len(ARTICLES) + len(VIDEOS)),
    "product": (len(ARTICLES) + len(VIDEOS), len(CONTENT_IDS)),
}

MOBILE_PREFIXES: tuple[int, ...] = (
    130, 131, 132, 133, 134, 135, 136, 137, 138, 139, 150, 151, 152, 153, 155, 156, 157, 158,
    159, 166, 177, 178, 180, 181, 182, 183, 185, 186, 187, 188, 189, 191, 198, 199,
)

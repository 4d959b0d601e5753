"""Small embedded word lists: names, places, products and exit-interview wording.

Everything is built in so the simulator never downloads anything; vectorised
``numpy`` choice over these tuples is much faster than a fake-data library.
"""

from __future__ import annotations

FIRST_NAMES = (
    "James", "Mary", "John", "Patricia", "Robert", "Jennifer", "Michael", "Linda", "William",
    "Elizabeth", "David", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah",
    "Charles", "Karen", "Daniel", "Nancy", "Matthew", "Lisa", "Anthony", "Betty", "Mark",
    "Margaret", "Paul", "Sandra", "Steven", "Ashley", "Andrew", "Emily", "Joshua", "Donna",
    "Kevin", "Michelle", "Brian", "Carol", "George", "Amanda", "Edward", "Melissa", "Oliver",
    "Sophie", "Liam", "Emma", "Noah", "Olivia", "Lucas", "Mia", "Hugo", "Chloe", "Louis",
    "Camille", "Jan", "Anna", "Pieter", "Sanne", "Lukas", "Lena", "Felix", "Hannah", "Mateo",
    "Lucia", "Aiden", "Aoife", "Sean", "Niamh", "Priya", "Arjun", "Fatima", "Omar", "Yuki",
    "Kenji", "Ingrid", "Lars", "Sofia", "Marco", "Giulia", "Ahmed", "Leila", "Kwame", "Amara",
)
LAST_NAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Wilson",
    "Anderson", "Taylor", "Thomas", "Moore", "Jackson", "Martin", "Lee", "Thompson", "White",
    "Harris", "Clark", "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright",
    "Scott", "Green", "Baker", "Adams", "Nelson", "Hill", "Campbell", "Mitchell", "Roberts",
    "Carter", "Phillips", "Evans", "Turner", "Parker", "Collins", "Edwards", "Stewart",
    "Murphy", "Kelly", "Byrne", "Walsh", "Muller", "Schmidt", "Schneider", "Fischer", "Weber",
    "Meyer", "Dubois", "Bernard", "Moreau", "Laurent", "Lefebvre", "de Jong", "Jansen",
    "de Vries", "Bakker", "Visser", "Rossi", "Russo", "Ferrari", "Esposito", "Novak", "Kowalski",
    "Nowak", "Patel", "Shah", "Khan", "Singh", "Nakamura", "Tanaka", "Larsen", "Hansen",
    "Nielsen", "Okafor", "Mensah", "Silva", "Santos", "Costa", "Fernandez", "Lopez", "Gonzalez",
)
COMPANY_STEMS = (
    "Acme", "Northwind", "Bluebird", "Granite", "Harbour", "Juniper", "Kestrel", "Lumen",
    "Meridian", "Oakridge", "Pioneer", "Quarry", "Riverside", "Summit", "Tidewater", "Vertex",
    "Willow", "Zenith", "Beacon", "Cobalt",
)
COMPANY_SUFFIXES = ("Ltd", "GmbH", "BV", "SARL", "Inc", "LLC", "& Co", "Group", "Partners")
STREETS = (
    "High", "Station", "Church", "Park", "Victoria", "Green", "Manor", "Mill", "Queen", "King",
    "Oak", "Elm", "Maple", "Cedar", "Lake", "Hill", "Bridge", "Market", "School", "Castle",
    "Garden", "Meadow", "River", "North", "South", "West", "Chapel", "Orchard", "Forest", "Spring",
)
STREET_SUFFIXES = ("Street", "Road", "Lane", "Avenue", "Close", "Way", "Drive", "Place")
# country -> (cities, phone country code, weight)
COUNTRIES: dict[str, tuple[tuple[str, ...], str, float]] = {
    "GB": (("London", "Manchester", "Bristol", "Leeds", "Glasgow", "Cardiff", "York"), "44", 0.35),
    "IE": (("Dublin", "Cork", "Galway", "Limerick"), "353", 0.08),
    "US": (("New York", "Chicago", "Austin", "Seattle", "Boston", "Denver"), "1", 0.2),
    "DE": (("Berlin", "Hamburg", "Munich", "Cologne", "Leipzig"), "49", 0.15),
    "FR": (("Paris", "Lyon", "Marseille", "Lille", "Nantes"), "33", 0.12),
    "NL": (("Amsterdam", "Rotterdam", "Utrecht", "Eindhoven"), "31", 0.1),
}
# Region (state, county, Land) of each city above, as registers record it.
CITY_REGIONS: dict[str, str] = {
    "London": "Greater London", "Manchester": "Greater Manchester", "Bristol": "Avon",
    "Leeds": "West Yorkshire", "Glasgow": "Lanarkshire", "Cardiff": "Glamorgan",
    "York": "North Yorkshire", "Dublin": "Leinster", "Cork": "Munster", "Galway": "Connacht",
    "Limerick": "Munster", "New York": "NY", "Chicago": "IL", "Austin": "TX", "Seattle": "WA",
    "Boston": "MA", "Denver": "CO", "Berlin": "Berlin", "Hamburg": "Hamburg",
    "Munich": "Bayern", "Cologne": "Nordrhein-Westfalen", "Leipzig": "Sachsen",
    "Paris": "Ile-de-France", "Lyon": "Auvergne-Rhone-Alpes",
    "Marseille": "Provence-Alpes-Cote d'Azur", "Lille": "Hauts-de-France",
    "Nantes": "Pays de la Loire", "Amsterdam": "Noord-Holland", "Rotterdam": "Zuid-Holland",
    "Utrecht": "Utrecht", "Eindhoven": "Noord-Brabant",
}
# Regions of each country for the hard mode's generated towns (simulate.geography);
# every region of CITY_REGIONS is among them.
REGIONS: dict[str, tuple[str, ...]] = {
    "GB": ("Greater London", "Greater Manchester", "Avon", "West Yorkshire", "Lanarkshire",
           "Glamorgan", "North Yorkshire", "Kent", "Essex", "Surrey", "Hampshire", "Devon",
           "Cornwall", "Norfolk", "Suffolk", "Lancashire", "Cheshire", "Merseyside",
           "Derbyshire", "Nottinghamshire", "Lincolnshire", "Cumbria", "Durham",
           "Northumberland", "Somerset", "Dorset", "Wiltshire", "Oxfordshire", "Fife",
           "Highland", "Aberdeenshire", "Gwynedd", "Powys", "Antrim", "Down"),
    "IE": ("Leinster", "Munster", "Connacht", "Ulster"),
    "US": ("NY", "IL", "TX", "WA", "MA", "CO", "CA", "FL", "PA", "OH", "GA", "NC", "MI",
           "NJ", "VA", "AZ", "TN", "IN", "MO", "MD", "WI", "MN", "SC", "AL", "LA", "KY",
           "OR", "OK", "CT", "UT", "IA", "NV", "AR", "MS", "KS", "NM", "NE", "ID", "WV",
           "HI", "NH", "ME", "MT", "RI", "DE", "SD", "ND", "AK", "VT", "WY"),
    "DE": ("Berlin", "Hamburg", "Bayern", "Nordrhein-Westfalen", "Sachsen",
           "Baden-Wurttemberg", "Niedersachsen", "Hessen", "Rheinland-Pfalz", "Brandenburg",
           "Thuringen", "Sachsen-Anhalt", "Mecklenburg-Vorpommern", "Schleswig-Holstein",
           "Saarland", "Bremen"),
    "FR": ("Ile-de-France", "Auvergne-Rhone-Alpes", "Provence-Alpes-Cote d'Azur",
           "Hauts-de-France", "Pays de la Loire", "Nouvelle-Aquitaine", "Occitanie",
           "Grand Est", "Bretagne", "Normandie", "Bourgogne-Franche-Comte",
           "Centre-Val de Loire", "Corse"),
    "NL": ("Noord-Holland", "Zuid-Holland", "Utrecht", "Noord-Brabant", "Gelderland",
           "Overijssel", "Limburg", "Groningen", "Friesland", "Drenthe", "Flevoland",
           "Zeeland"),
}
UNIT_WORDS = ("Apt", "Flat", "Unit", "Suite")
EMAIL_DOMAINS = (
    "gmail.com", "outlook.com", "yahoo.com", "hotmail.com", "icloud.com", "proton.me",
    "fastmail.com", "web.de", "orange.fr", "example.net",
)
# Harder duplicates swap a mailbox for an alias of the same provider.
EMAIL_DOMAIN_ALIASES = {"gmail.com": "googlemail.com", "hotmail.com": "outlook.com"}

ACQUISITION_SOURCES = ("organic", "paid_search", "social", "email", "referral", "partner", "store")
ACQUISITION_WEIGHTS = (0.3, 0.2, 0.15, 0.1, 0.1, 0.05, 0.1)
ORDER_CHANNELS = ("web", "app", "store", "phone", "marketplace")
ORDER_CHANNEL_WEIGHTS = (0.45, 0.2, 0.2, 0.05, 0.1)
COMPETITORS = ("Brightmart", "ShopNest", "ValueHub", "Crate & Co", "Nimbus Retail")

# category -> (product nouns, median list price, gross margin)
CATEGORIES: dict[str, tuple[tuple[str, ...], float, float]] = {
    "books": (("Novel", "Cookbook", "Atlas", "Biography", "Guide", "Anthology"), 18.0, 0.28),
    "electronics": (("Headphones", "Charger", "Speaker", "Tablet", "Camera", "Router"), 90.0, 0.12),
    "home": (("Lamp", "Cushion", "Rug", "Vase", "Clock", "Mirror"), 40.0, 0.42),
    "garden": (("Planter", "Hose", "Trowel", "Bench", "Seed kit", "Lantern"), 30.0, 0.36),
    "toys": (("Puzzle", "Board game", "Kite", "Robot kit", "Plush bear", "Blocks"), 25.0, 0.33),
    "beauty": (("Serum", "Shampoo", "Soap bar", "Lip balm", "Face mask", "Perfume"), 20.0, 0.58),
    "grocery": (("Coffee", "Tea", "Olive oil", "Chocolate", "Honey", "Granola"), 9.0, 0.18),
    "apparel": (("Scarf", "Jacket", "Sneakers", "T-shirt", "Jeans", "Beanie"), 45.0, 0.52),
    "services": (("Gift wrap", "Extended warranty", "Installation", "Repair"), 35.0, 0.7),
}
PRODUCT_ADJECTIVES = (
    "Classic", "Premium", "Eco", "Compact", "Deluxe", "Essential", "Nordic", "Urban", "Vintage",
    "Smart",
)

DEFECTOR_TYPES = ("price", "product", "service", "market", "technology", "organizational")
# Shares among defectors; service defectors are drawn more often at low satisfaction.
DEFECTOR_WEIGHTS = (0.3, 0.2, 0.2, 0.1, 0.1, 0.1)
EXIT_TEMPLATES: dict[str, tuple[str, ...]] = {
    "price": (
        "Found the same things cheaper elsewhere, your prices went up too much.",
        "Honestly it was the cost. {competitor} offers a better deal and free delivery.",
        "Too expensive for what it is. I switched to a discount store.",
        "The price increase last month was the last straw, I can't justify the spend.",
        "Your competitor had a sale and kept their prices low, so I moved.",
    ),
    "product": (
        "The quality dropped, the last items broke after a few weeks.",
        "{competitor} simply has better products and a wider range.",
        "The product did not do what I needed, features were missing.",
        "Items arrived faulty twice. The products are not as good as they used to be.",
        "I wanted a model you don't sell; the range is too limited.",
    ),
    "service": (
        "Nobody answered my complaint for weeks, terrible customer service.",
        "Staff were rude on the phone and the delivery was late again.",
        "I was passed around between agents and my issue was never resolved.",
        "Service has been poor: slow replies, wrong orders, no apology.",
        "The support team ignored my emails. I don't feel valued as a customer.",
    ),
    "market": (
        "We moved abroad and you don't deliver to our new country.",
        "I no longer need these products, my situation changed.",
        "Our business closed the department that used to buy from you.",
        "We relocated and there's no store near us any more.",
        "Not buying this kind of thing these days, the need went away.",
    ),
    "technology": (
        "Your website and app are clunky, {competitor} has a much better app.",
        "Checkout kept failing online and there is no proper mobile app.",
        "We switched to a supplier with an online ordering integration you lack.",
        "The app crashed every time I tried to pay; others make it easy.",
        "You don't support the digital tools we use now, so we moved.",
    ),
    "organizational": (
        "Company policy changed and procurement now requires a different vendor.",
        "Our new management chose a single supplier for everything.",
        "The contract went to tender and head office picked someone else.",
        "A merger meant we had to consolidate suppliers; nothing personal.",
        "Internal politics: the decision was made above my head.",
    ),
}
# Prefixed or appended at random so texts are not verbatim templates.
EXIT_FILLERS = (
    "", "", "Thanks for asking. ", "To be honest, ", "Well, ", "Hard to say. ", "Mainly: ",
)
EXIT_ENDINGS = ("", "", " Maybe I'll come back one day.", " Good luck.", " That's all.", " Bye.")

SUBJECTS: dict[str, tuple[str, ...]] = {
    "inquiry": ("Question about delivery", "Product availability", "Opening hours", "Sizing"),
    "service_request": ("Change my order", "Update address", "Warranty repair", "Return label"),
    "complaint": ("Late delivery", "Damaged item", "Wrong item sent", "Rude staff", "Refund"),
    "survey_response": ("Post-purchase survey", "Quarterly satisfaction survey"),
    "review": ("Product review",),
    "referral": ("Referred a friend",),
    "idea": ("Product idea", "Suggestion for the shop", "Feature request"),
    "email": ("Newsletter", "Seasonal offer", "Your order has shipped", "We miss you"),
    "call": ("Account check-in", "Follow-up call"),
    "visit": ("Store visit", "Website visit"),
    "exit_interview": ("Exit interview",),
}

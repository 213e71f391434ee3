"""The demo partner's world, shared by both sides of `./dev run` so that they tell one story:

- the sandbox (``--seed story``) holds these companies' Microsoft tenants, their subscriptions
  (history, a few bought this week whose cancellation window is closing, renewals coming, one
  suspended, one cancelled) and their users with licences;
- the platform's demo data (``seatkeeper demo``) creates the same companies as customers of the
  demo partner or of one of its three resellers, so that connecting the sandbox links each
  customer to its own company's tenant (same name) and the first discovery brings its
  subscriptions and users in.

Plain data, no Django: the sandbox runs on its own. Nothing here reads the time: dates are
offsets from the world's "today".
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass


@dataclass(frozen=True)
class Company:
    name: str
    legal_form: str
    street: str
    city: str
    postal_code: str
    country: str  # "FR" or "GB"
    first_name: str
    last_name: str
    reseller: str | None  # None: a direct customer of the partner
    seats: int  # the company's size: how many people work there
    # The company exists at Microsoft (a tenant in the sandbox). False: a new customer whose
    # tenant the partner creates when connecting.
    has_tenant: bool = True
    # The tenant was created before the Microsoft Customer Agreement was required and nobody
    # confirmed its acceptance yet: Microsoft refuses new orders (403, 13605).
    agreement_missing: bool = False

    @property
    def legal_name(self) -> str:
        return f"{self.name} {self.legal_form}"

    @property
    def domain_prefix(self) -> str:
        return domain_prefix(self.name)


def domain_prefix(name: str) -> str:
    """The `<prefix>.onmicrosoft.com` of a company: its name in plain letters and digits."""
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().casefold()
    return re.sub(r"[^a-z0-9]", "", plain)[:27]


BELLEVUE, ATLANTIQUE, THAMES = (
    "Bellevue Informatique",
    "Atlantique Numérique",
    "Thames IT Partners",
)

COMPANIES: tuple[Company, ...] = (
    # Bellevue Informatique (Lyon): Auvergne-Rhône-Alpes
    Company("Boulangerie Martin", "SARL", "3 place Bellecour", "Lyon", "69002", "FR",
            "Sophie", "Martin", BELLEVUE, 9),
    Company("Cabinet Dupont Avocats", "SELARL", "21 cours Lafayette", "Lyon", "69003", "FR",
            "Marc", "Dupont", BELLEVUE, 14),
    Company("Pharmacie des Terreaux", "SARL", "5 place des Terreaux", "Lyon", "69001", "FR",
            "Nathalie", "Girard", BELLEVUE, 6),
    Company("Transports Rivière", "SAS", "48 avenue Jean Jaurès", "Lyon", "69007", "FR",
            "Patrick", "Rivière", BELLEVUE, 60),
    Company("Clinique vétérinaire du Parc", "SELARL", "12 boulevard des Belges", "Lyon",
            "69006", "FR", "Amélie", "Roux", BELLEVUE, 11),
    Company("Menuiserie Vernet", "SARL", "7 rue de la Charité", "Lyon", "69002", "FR",
            "Thomas", "Vernet", BELLEVUE, 5),
    Company("Hôtels Saint-Jean", "SAS", "30 quai Romain Rolland", "Lyon", "69005", "FR",
            "Isabelle", "Faure", BELLEVUE, 45),
    Company("Cabinet Lambert Expertise", "SARL", "15 cours Émile Zola", "Villeurbanne",
            "69100", "FR", "Olivier", "Lambert", BELLEVUE, 22),
    Company("Imprimerie Chabert", "SAS", "9 rue Gambetta", "Saint-Étienne", "42000", "FR",
            "Céline", "Chabert", BELLEVUE, 18),
    Company("Domaine des Coteaux", "SAS", "4 route de Lyon", "Ampuis", "69420", "FR",
            "Henri", "Delorme", BELLEVUE, 7),
    Company("Moulin Architectes", "SARL", "10 rue Servient", "Lyon", "69003", "FR",
            "Claire", "Moulin", BELLEVUE, 9),
    Company("Alpes Ingénierie", "SAS", "25 avenue Alsace-Lorraine", "Grenoble", "38000", "FR",
            "Julien", "Garnier", BELLEVUE, 75),
    Company("Optique Bonnard", "SARL", "18 place Saint-Léger", "Chambéry", "73000", "FR",
            "Laure", "Bonnard", BELLEVUE, 4),
    # Atlantique Numérique (Nantes): the west of France
    Company("Chantiers Navals Le Goff", "SAS", "3 quai de la Fosse", "Nantes", "44000", "FR",
            "Yann", "Le Goff", ATLANTIQUE, 85),
    Company("Biscuiterie Bertin", "SAS", "22 rue de Strasbourg", "Nantes", "44000", "FR",
            "Anne", "Bertin", ATLANTIQUE, 40),
    Company("Cabinet médical de l'Erdre", "SELARL", "14 boulevard Michelet", "Nantes", "44300",
            "FR", "Hélène", "Tanguy", ATLANTIQUE, 7),
    Company("Agence Océane Immobilier", "SARL", "6 rue Crébillon", "Nantes", "44000", "FR",
            "Sébastien", "Morin", ATLANTIQUE, 12),
    Company("Transports Guérin", "SAS", "110 route de Vannes", "Saint-Herblain", "44800", "FR",
            "Philippe", "Guérin", ATLANTIQUE, 55),
    Company("Librairie du Passage", "SARL", "2 passage Pommeraye", "Nantes", "44000", "FR",
            "Marion", "Leroy", ATLANTIQUE, 5),
    Company("Studio Azimut", "SARL", "9 rue Kervégan", "Nantes", "44000", "FR",
            "Lucas", "Perrin", ATLANTIQUE, 10),
    Company("Conserverie de Quiberon", "SAS", "2 rue du Port Maria", "Quiberon", "56170", "FR",
            "Gaëlle", "Le Bihan", ATLANTIQUE, 24, agreement_missing=True),
    Company("Cabinet Renaud Expertise", "SARL", "31 rue de la Monnaie", "Rennes", "35000", "FR",
            "François", "Renaud", ATLANTIQUE, 16),
    Company("Crêperie Ty Breizh", "SARL", "4 rue Saint-Michel", "Rennes", "35000", "FR",
            "Maëlle", "Cadiou", ATLANTIQUE, 3),
    # Thames IT Partners (London): England
    Company("Harbour Logistics", "Ltd", "1 Dock Road", "Southampton", "SO14 3GG", "GB",
            "Emma", "Clarke", THAMES, 70),
    Company("Oakwood Dental Practice", "LLP", "7 Oak Lane", "Reading", "RG1 2AB", "GB",
            "Priya", "Shah", THAMES, 12),
    Company("Camden Bakery", "Ltd", "88 Chalk Farm Road", "London", "NW1 8AN", "GB",
            "Tom", "Fletcher", THAMES, 9),
    Company("Whitfield Hart Solicitors", "LLP", "14 Gray's Inn Road", "London", "WC1X 8HN",
            "GB", "Rebecca", "Hart", THAMES, 28),
    Company("Brightwater Veterinary Group", "Ltd", "52 High Street", "Guildford", "GU1 3EL",
            "GB", "Daniel", "Moss", THAMES, 20),
    Company("Kingsley Accountants", "Ltd", "3 Station Road", "Cambridge", "CB1 2JH", "GB",
            "Aisha", "Khan", THAMES, 15),
    Company("Riverside Care Homes", "Ltd", "19 St Aldates", "Oxford", "OX1 1DB", "GB",
            "Margaret", "Doyle", THAMES, 48),
    Company("Greenwich Design Studio", "Ltd", "6 Nelson Road", "London", "SE10 9JB", "GB",
            "Sam", "Patel", THAMES, 8),
    Company("Medway Engineering", "Ltd", "4 Gillingham Business Park", "Gillingham",
            "ME8 0NJ", "GB", "Gary", "Walsh", THAMES, 65),
    Company("The Old Mill Hotel", "Ltd", "Mill Lane", "Bath", "BA2 4EX", "GB",
            "Charlotte", "Dunn", THAMES, 26),
    Company("Brighton Physio Clinic", "Ltd", "40 Western Road", "Brighton", "BN1 2EB", "GB",
            "Josh", "Turner", THAMES, 6, has_tenant=False),
    # Direct customers of the partner
    Company("3DServiceLab", "SAS", "5 avenue des Sciences", "Grenoble", "38000", "FR",
            "Luc", "Bernard", None, 30, has_tenant=False),
    Company("Greenfield Architects", "LLP", "22 Queen Street", "Edinburgh", "EH2 1JX", "GB",
            "Fiona", "Reid", None, 18),
    Company("Manufacture Lefèvre", "SAS", "15 rue de la Gare", "Lille", "59000", "FR",
            "Jérôme", "Lefèvre", None, 110),
    Company("Clinique Saint-Roch", "SAS", "560 avenue du Colonel Pavelet", "Montpellier",
            "34000", "FR", "Karim", "Haddad", None, 90),
    Company("Northern Lights Retail", "Ltd", "27 Bold Street", "Liverpool", "L1 4DN", "GB",
            "Hannah", "Price", None, 55),
    Company("Caledonian Freight", "Ltd", "200 Broomielaw", "Glasgow", "G1 4RU", "GB",
            "Iain", "MacLeod", None, 38),
)  # fmt: skip

# Microsoft products by the company's size: (most staff, extras that some companies add).
SMALL_SUITES = ("CFQ7TTC0LH18", "CFQ7TTC0LDPB")  # Business Basic, Business Standard
MEDIUM_SUITES = ("CFQ7TTC0LDPB", "CFQ7TTC0LCHC")  # Business Standard, Business Premium
LARGE_SUITES = ("CFQ7TTC0LFLX", "CFQ7TTC0LCHC")  # Microsoft 365 E3, Business Premium
EXTRAS = (
    "CFQ7TTC0L3PB",  # Power BI Pro
    "CFQ7TTC0LH16",  # Exchange Online (Plan 1), for the staff without a desk
    "CFQ7TTC0RQN9",  # Teams Essentials
    "CFQ7TTC0LHXK",  # Microsoft 365 Apps for business
    "CFQ7TTC0LH3N",  # Dynamics 365 Business Central Essentials
    "CFQ7TTC0LH3P",  # Dynamics 365 Sales Professional
)
ADDONS = (
    "CFQ7TTC0LH0R",  # Teams Phone Standard
    "CFQ7TTC0LCHG",  # Defender for Office 365 (Plan 1)
    "CFQ7TTC0LHWP",  # Exchange Online Archiving
)

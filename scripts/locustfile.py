"""The users of `make loadtest` (Locust): agents working their cases and the creditor's staff following theirs,
with the sessions, cases and names of the plan written by `manage.py loadtest_plan` (LOADTEST_PLAN).

The server runs with the production settings behind what would be the TLS proxy: every request says
`X-Forwarded-Proto: https`, and the session and CSRF cookies (Secure, « __Host- ») are sent by hand, since a
client does not send a Secure cookie over plain HTTP. Each user thinks 2 to 6 seconds between two clicks."""

import json
import os
import random
import re
from itertools import count
from pathlib import Path

from locust import HttpUser, between, task

PLAN = json.loads(Path(os.environ["LOADTEST_PLAN"]).read_text(encoding="utf-8"))
SESSION_COOKIE = "__Host-sessionid"
CSRF_COOKIE = "__Host-csrftoken"
CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
ONCE_FIELD = re.compile(r'name="_once" value="([^"]+)"')
_next = {"agents": count(), "creditors": count()}


class Journey(HttpUser):
    abstract = True
    population = ""
    wait_time = between(2, 6)

    def on_start(self):
        journeys = PLAN[self.population]
        self.journey = journeys[next(_next[self.population]) % len(journeys)]
        self.cookies = {SESSION_COOKIE: self.journey["session"]}

    def _headers(self, referer: str = "") -> dict:
        headers = {
            "X-Forwarded-Proto": "https",
            "Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items()),
        }
        if referer:
            headers["Referer"] = f"https://{self.host.split('://', 1)[1]}{referer}"
        return headers

    def get(self, url: str, name: str):
        with self.client.get(url, name=name, headers=self._headers(), allow_redirects=False, catch_response=True) as r:
            if r.status_code != 200:
                r.failure(f"{r.status_code} sur {url}")
            elif CSRF_COOKIE in r.cookies:
                self.cookies[CSRF_COOKIE] = r.cookies[CSRF_COOKIE]
            return r

    def post(self, url: str, data: dict, name: str, referer: str):
        with self.client.post(
            url, data=data, name=name, headers=self._headers(referer), allow_redirects=False, catch_response=True
        ) as r:
            if r.status_code != 302:
                r.failure(f"{r.status_code} sur {url}")
            return r

    def case(self) -> int:
        return random.choice(self.journey["cases"])

    def name(self) -> str:
        return random.choice(self.journey["names"])

    @task(2)
    def home(self):
        self.get("/", "accueil")

    @task(2)
    def case_list(self):
        self.get("/dossiers/", "liste des dossiers")

    @task(1)
    def search(self):
        self.get(f"/dossiers/?q={self.name()}", "recherche par nom")

    @task(4)
    def case_page(self):
        self.get(f"/dossiers/{self.case()}/", "page d'un dossier")


class Agent(Journey):
    population = "agents"
    weight = 3

    @task(2)
    def day(self):
        self.get("/travail/ma-journee/", "Ma journée")

    @task(1)
    def comment(self):
        pk = self.case()
        page = self.get(f"/dossiers/{pk}/", "page d'un dossier")
        csrf, once = CSRF_FIELD.search(page.text or ""), ONCE_FIELD.search(page.text or "")
        if page.status_code != 200 or not csrf or CSRF_COOKIE not in self.cookies:
            return
        data = {"csrfmiddlewaretoken": csrf.group(1), "body": "Point fait avec le débiteur."}
        if once:
            data["_once"] = once.group(1)
        self.post(f"/dossiers/{pk}/commentaires/", data, "commentaire", referer=f"/dossiers/{pk}/")


class Creditor(Journey):
    population = "creditors"
    weight = 2

    @task(1)
    def requests(self):
        self.get("/demandes/", "demandes")
